package casebook

import "testing"

func TestFirstStep(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"bold title", "先确认范围。\n\n1. **列出 Pending Pod，取出完整的调度失败消息。**\n\n   ```bash\n   kubectl get pods\n   ```\n\n2. 第二步", "列出 Pending Pod，取出完整的调度失败消息。 → kubectl get pods"},
		{"console prompt, comment, colon", "1. 在集群内复现：\n\n   ```console\n   # 先看 Service\n   $ kubectl get svc -n shop\n   NAME  TYPE\n   ```\n", "在集群内复现 → kubectl get svc -n shop"},
		{"continued command", "1. 复现\n\n   ```bash\n   kubectl run t --rm -it \\\n     --image=busybox -- wget -qO- http://web\n   ```\n", "复现 → kubectl run t --rm -it --image=busybox -- wget -qO- http://web"},
		{"trailing comment", "1. 确认瓶颈在 I/O。\n\n   ```bash\n   cat /proc/pressure/io          # PSI，内核 4.20+\n   ```\n", "确认瓶颈在 I/O。 → cat /proc/pressure/io"},
		{"first step without a command", "1. 看现象\n2. 再看\n\n```bash\nkubectl get pods\n```", "看现象"},
		{"code in title", "1. 查看 `kubectl describe pvc` 的事件\n2. x", "查看 kubectl describe pvc 的事件"},
		{"not yet written", "待补充。", ""},
		{"numbered inside a code block only", "```\n1. not a step\n```", ""},
	} {
		c := &Case{Sections: []Section{{Title: "排查过程", Text: tc.text}}}
		if got := c.FirstStep(); got != tc.want {
			t.Errorf("%s: FirstStep() = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := (&Case{}).FirstStep(); got != "" {
		t.Errorf("no section: %q", got)
	}
}

func TestObjectRefString(t *testing.T) {
	if s := (ObjectRef{Kind: "Pod", Namespace: "shop", Name: "api"}).String(); s != "Pod shop/api" {
		t.Error(s)
	}
	if s := (ObjectRef{Kind: "Node", Name: "edge-02"}).String(); s != "Node edge-02" {
		t.Error(s)
	}
}
