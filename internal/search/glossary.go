package search

import "strings"

// glossary pairs the Chinese words of the cases with the English words a
// user writes for the same thing. Case bodies are in Chinese and users
// often describe a fault in English ("kubectl logs is empty"), or the other
// way round, so each case is also indexed under the other language's words
// for what it says (see Matcher.index). Each line is a Chinese word, then
// its English words; a multi-word English entry is joined with '+'.
const glossary = `
日志 log logs
输出 output
为空 empty
空白 blank empty
缓冲 buffer buffered buffering
刷新 flush flushed
打印 print println printf
慢 slow
变慢 slow slower slowdown
缓慢 slow
延迟 latency delay delayed lag
性能 performance
超时 timeout timeouts
冷启动 cold+start
启动 start startup boot
重启 restart restarted restarts
崩溃 crash crashed crashes
内存 memory
溢出 overflow
泄漏 leak
线程 thread threads
多线程 multithreading multithreaded
并发 concurrency concurrent
并行 parallel parallelism
网络 network networking
连接 connection connect
拒绝 refused denied rejected
无法访问 unreachable inaccessible
不通 unreachable
域名解析 dns resolve
文件 file files
文件系统 filesystem
目录 directory dir
权限 permission permissions permitted
不允许 permitted
打开 open
预打开 preopen preopened
只读 readonly read-only
挂载 mount mounted mounting
存储卷 volume volumes
存储 storage
磁盘 disk
镜像 image images
拉取 pull pulling
镜像仓库 registry
仓库 registry repository
证书 certificate certificates cert certs
过期 expired expire expiry
轮换 rotate rotation
加入 join joining
节点 node nodes
令牌 token
密码 password
调度 scheduling schedule scheduled
污点 taint taints
容忍 toleration tolerations
亲和性 affinity
资源不足 insufficient
网络策略 networkpolicy network+policy
策略 policy policies
规则 rule rules
防火墙 firewall
控制平面 control+plane
负载 load
准入 admission
校验 validation validate
评估 evaluation evaluate
更新 update updated
审计 audit
约束 constraint constraints
模板 template templates
同步 sync synced
缓存 cache
跨节点 cross-node
通信 communication communicate
服务 service
路由 route routing
转发 forward forwarding
端口 port ports
后端 backend
容量 capacity
驱逐 evicted eviction evict
吞吐 throughput
升级 upgrade upgraded
版本 version
编译 compile compiled
解释器 interpreter
解释执行 interpreter interpreted
插件 plugin plugins
找不到 missing
不存在 missing nonexistent
卡住 stuck hang hangs
被杀 killed
探针 probe probes
健康检查 health+check
就绪 ready readiness
存活 liveness
生效 effect effective enforced
不生效 ineffective ignored
流量 traffic
网卡 interface nic
主机名 hostname
时钟 clock
套接字 socket
异步 async
阻塞 blocking blocked
`

// glossaryEntry is one line of the glossary.
type glossaryEntry struct {
	zh string
	en []string
}

func parseGlossary() []glossaryEntry {
	var out []glossaryEntry
	for _, ln := range strings.Split(glossary, "\n") {
		f := strings.Fields(ln)
		if len(f) < 2 {
			continue
		}
		e := glossaryEntry{zh: f[0]}
		for _, w := range f[1:] {
			e.en = append(e.en, strings.ReplaceAll(w, "+", " "))
		}
		out = append(out, e)
	}
	return out
}
