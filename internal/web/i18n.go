package web

import (
	"net/http"
	"strings"

	casebook "github.com/casebook-dev/casebook"
)

// lang is a UI language. Chinese is the default, as the cases are written
// in Chinese; English is a toggle that sticks in a cookie.
type lang string

const (
	langZH lang = "zh"
	langEN lang = "en"
)

var langs = []lang{langZH, langEN}

// langCookie remembers the reader's choice of language.
const langCookie = "casebook_lang"

// requestLang is the language the reader chose, Chinese when none.
func requestLang(r *http.Request) lang {
	if c, err := r.Cookie(langCookie); err == nil && c.Value == string(langEN) {
		return langEN
	}
	return langZH
}

// htmlLang is the value of the <html lang> attribute.
func (l lang) htmlLang() string {
	if l == langEN {
		return "en"
	}
	return "zh-CN"
}

// other is the language the toggle switches to.
func (l lang) other() lang {
	if l == langEN {
		return langZH
	}
	return langEN
}

// messages holds the UI strings: key → {Chinese, English}.
var messages = map[string][2]string{
	"brand.tagline":     {"边缘集群故障排查案例集", "Troubleshooting casebook for edge clusters"},
	"nav.cases":         {"案例", "Cases"},
	"nav.search":        {"搜索", "Search"},
	"nav.match":         {"匹配报错", "Match"},
	"nav.diagnose":      {"诊断", "Diagnose"},
	"nav.api":           {"API", "API"},
	"lang.switch":       {"English", "中文"},
	"lang.switch.title": {"Switch to English", "切换到中文"},
	"search.placeholder": {"搜索案例，例如 证书过期、cold start",
		"Search cases, e.g. 证书过期, cold start"},
	"search.button":      {"搜索", "Search"},
	"search.title":       {"搜索", "Search"},
	"search.results":     {"个结果", "results"},
	"search.for":         {"搜索：", "Results for"},
	"search.none":        {"没有找到相关案例。换个说法，或试试报错原文、组件名。", "No case matches. Try other words, the error text or a component name."},
	"search.empty":       {"输入关键词搜索全部案例，中英文均可。", "Type words to search every case, in Chinese or English."},
	"search.try":         {"试试：", "Try:"},
	"home.title":         {"故障排查案例集", "Troubleshooting casebook"},
	"home.lead":          {"K3s、WasmEdge、OPA/Gatekeeper、网络与存储的故障案例：每个案例包含故障描述、排查过程、根因分析、解决方案与验证结果。", "Cases for K3s, WasmEdge, OPA/Gatekeeper, networking and storage: each with symptoms, investigation, root cause, solution and verification."},
	"home.total":         {"个案例", "cases"},
	"home.complete":      {"已完成", "complete"},
	"home.draft":         {"待补充", "draft"},
	"home.detected":      {"可自动检测", "auto-detected"},
	"home.filters":       {"筛选", "Filter"},
	"home.clear":         {"清除筛选", "Clear filters"},
	"home.showing":       {"显示", "Showing"},
	"home.of":            {"/", "of"},
	"home.none":          {"没有符合这些条件的案例。", "No case matches these filters."},
	"axis.component":     {"组件", "Component"},
	"axis.severity":      {"严重程度", "Severity"},
	"axis.type":          {"故障类型", "Fault type"},
	"axis.status":        {"状态", "Status"},
	"case.detected":      {"可自动检测", "Auto-detected"},
	"badge.detected":     {"自动检测", "auto-detect"},
	"case.reproduce":     {"可在实验集群上复现并验证解决方案：", "Reproduce it and check its fix on a lab cluster:"},
	"case.detected.hint": {"casebook diagnose 能在集群或快照中自动发现此案例", "casebook diagnose finds this case in a cluster or snapshot by itself"},
	"case.toc":           {"目录", "Contents"},
	"case.related":       {"相关案例", "Related cases"},
	"case.references":    {"参考链接", "References"},
	"case.source":        {"源文件", "Source file"},
	"case.environment":   {"环境", "Environment"},
	"case.summary_en":    {"English summary", "Summary"},
	"case.body_zh":       {"案例正文为中文。", "The case text is in Chinese."},
	"case.signals":       {"特征报错", "Signals"},
	"case.signal.source": {"出处", "Source"},
	"case.signals.hint":  {"粘贴到“匹配报错”即可找到本案例的报错原文", "Verbatim error text that leads the matcher to this case"},
	"case.notfound":      {"没有这个案例", "No such case"},
	"case.didyoumean":    {"您要找的是", "Did you mean"},
	"code.copy":          {"复制", "Copy"},
	"code.copied":        {"已复制", "Copied"},
	"code.copyfail":      {"复制失败", "Copy failed"},
	"match.title":        {"匹配报错", "Match an error"},
	"match.lead":         {"粘贴报错、日志片段或 kubectl describe 输出，找到对应的案例和匹配依据。", "Paste an error, a log excerpt or kubectl describe output to find its case and the evidence."},
	"match.placeholder":  {"例如：Warning  FailedScheduling  0/3 nodes are available: 3 Insufficient memory.", "e.g. Warning  FailedScheduling  0/3 nodes are available: 3 Insufficient memory."},
	"match.button":       {"匹配", "Match"},
	"match.none":         {"没有已知案例与这段文本匹配。", "No known case matches this text."},
	"match.none.hint":    {"可以试试“搜索”，或补充更完整的报错原文。", "Try Search, or paste more of the original error output."},
	"match.results":      {"匹配结果", "Matching cases"},
	"match.confidence":   {"置信度", "Confidence"},
	"match.signals":      {"命中的特征报错", "Signals found"},
	"match.terms":        {"相关词", "Telling terms"},
	"match.lines":        {"相关行", "Relevant lines"},
	"match.line":         {"第", "line"},
	"match.line.suffix":  {"行", ""},
	"match.unavailable":  {"此服务器未启用匹配功能。", "Matching is not available on this server."},
	"match.empty":        {"请先粘贴一段报错文本。", "Paste some error text first."},
	"level.high":         {"高", "high"},
	"level.medium":       {"中", "medium"},
	"level.low":          {"低", "low"},
	"diag.title":         {"诊断", "Diagnose"},
	"diag.lead":          {"在集群或快照中自动发现已知案例：根因在前，由它导致的问题列在其下，每项附可直接粘贴的下一步命令。", "Known cases found in a cluster or snapshot: root causes first, what they cause nested under them, each with a next step to paste."},
	"diag.current":       {"当前数据源", "Current source"},
	"diag.nosource":      {"服务器启动时没有指定数据源。使用 casebook serve --snapshot PATH 或集群参数启动，或在下方上传快照。", "The server was started without a source. Start it with casebook serve --snapshot PATH or cluster flags, or upload a snapshot below."},
	"diag.upload":        {"上传快照", "Upload a snapshot"},
	"diag.upload.hint":   {"由 casebook collect -o bundle.tar.gz 生成的 .tar.gz 文件，不超过", "A .tar.gz made by casebook collect -o bundle.tar.gz, at most"},
	"diag.upload.button": {"上传并诊断", "Upload and diagnose"},
	"diag.upload.busy":   {"诊断中…", "Diagnosing…"},
	"diag.upload.again":  {"重新上传", "Upload another file"},
	"diag.uploaded":      {"上传的快照", "Uploaded snapshot"},
	"diag.findings":      {"项发现", "findings"},
	"diag.none":          {"没有发现已知案例。", "No known case found."},
	"diag.warnings":      {"警告", "Warnings"},
	"diag.objects":       {"对象", "Objects"},
	"diag.evidence":      {"证据", "Evidence"},
	"diag.nextstep":      {"下一步", "Next step"},
	"diag.onnode":        {"在节点上运行", "run on node"},
	"diag.roots":         {"个根因", "root causes"},
	"diag.causes":        {"→ 导致", "→ causes"},
	"diag.open":          {"打开案例", "Open the case"},
	"diag.unavailable":   {"此服务器未启用诊断功能。", "Diagnosis is not available on this server."},
	"diag.at":            {"诊断时间", "Diagnosed at"},
	"diag.refresh":       {"重新诊断", "Run again"},
	"diag.error":         {"诊断失败", "Diagnosis failed"},
	"err.title":          {"出错了", "Something went wrong"},
	"err.back":           {"返回首页", "Back to the cases"},
	"err.upload":         {"上传的文件无法使用", "The upload cannot be used"},
	"err.notfound":       {"页面不存在", "Page not found"},
	"footer.api":         {"JSON API", "JSON API"},
	"footer.offline":     {"离线可用 · 不依赖外部资源", "Works offline · no external resources"},
}

// tr returns the UI string for key in l, or the key itself when it is
// missing, so a missing string shows up instead of disappearing.
func tr(l lang, key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	if l == langEN {
		return m[1]
	}
	return m[0]
}

// Labels of the domain's vocabularies in each language.

func componentLabel(l lang, c casebook.Component) string {
	if l == langEN {
		return c.LabelEN()
	}
	return strings.TrimSpace(strings.TrimSuffix(c.Label(), "故障案例"))
}

var severityEN = map[casebook.Severity]string{
	casebook.SeverityCritical: "Critical", casebook.SeverityMajor: "Major", casebook.SeverityMinor: "Minor",
}

func severityLabel(l lang, s casebook.Severity) string {
	if l == langEN {
		return severityEN[s]
	}
	return s.Label()
}

var faultTypeEN = map[casebook.FaultType]string{
	casebook.TypeStartupFailure: "Startup failure", casebook.TypeRuntimeError: "Runtime error",
	casebook.TypePerformance: "Performance", casebook.TypeSecurity: "Security",
	casebook.TypeMisconfiguration: "Misconfiguration",
}

func faultTypeLabel(l lang, t casebook.FaultType) string {
	if l == langEN {
		return faultTypeEN[t]
	}
	return t.Label()
}

func statusLabel(l lang, s casebook.Status) string {
	switch {
	case l == langEN && s == casebook.StatusComplete:
		return "Complete"
	case l == langEN:
		return "Draft"
	case s == casebook.StatusComplete:
		return "已完成"
	}
	return "待补充"
}

func levelLabel(l lang, level string) string { return tr(l, "level."+level) }
