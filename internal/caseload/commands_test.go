package caseload_test

import (
	"os"
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
)

// freeCommands are allowed by name with their arguments unchecked: shell
// built-ins, text and file utilities, and the general Linux, network and
// build tools the cases use beside the tools they are about. The tools a
// case is about (kubectl, k3s, crictl, wasmedge, opa, gator, helm, etcdctl,
// journalctl, systemctl, timedatectl, openssl, curl, fio) have specs in
// testdata/commands instead, and every flag of theirs is checked.
var freeCommands = strings.Fields(`
	[ test true false echo printf read cd export set kill wait sleep seq for do done exit source
	cat head tail grep egrep awk sed cut sort uniq wc tr tee paste xargs column base64 sha256sum
	ls cp mv rm mkdir touch chmod chown ln stat du df find date nproc free uptime top ps
	jq yq sh bash diff less more env command which type dpkg apt apt-get dnf yum
	mount umount findmnt lsblk mkfs.ext4 rsync iostat pidstat dmesg reboot modprobe lsmod ldconfig ldd
	update-alternatives nsenter watch systemd-cgtop chronyc
	ip bridge ethtool ping nc tcpdump iptables iptables-save iptables-restore iptables-legacy-save
	iptables-nft-save ip6tables-save ip6tables-restore ipset nft ufw firewall-cmd
	cargo rustup docker crane wasm-objdump wat2wasm crun k3s-uninstall.sh k3s-killall.sh k3s-agent-uninstall.sh
`)

// wrappers run the command that follows their own flags (and, for timeout
// and watch's -n, a plain argument).
var wrappers = map[string]int{"sudo": 0, "time": 0, "nohup": 0, "exec": 0, "timeout": 1, "xargs": 0, "env": 0}

func newChecker(t *testing.T) *caseload.CommandChecker {
	t.Helper()
	specs, err := caseload.LoadCommandSpecs(os.DirFS("testdata"), "commands")
	if err != nil {
		t.Fatal(err)
	}
	free := map[string]bool{}
	for _, f := range freeCommands {
		free[f] = true
	}
	return &caseload.CommandChecker{Specs: specs, Free: free, Wrappers: wrappers}
}

// TestCaseCommands parses every shell block of every case with a real shell
// parser and checks each command's name, subcommands and flags against the
// tools' own command definitions (testdata/commands: kubectl and k3s walked
// from their source, the others from their --help output or source at a
// stated version).
func TestCaseCommands(t *testing.T) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	cc := newChecker(t)
	checked := 0
	for _, c := range lib.Cases {
		cmds, problems := caseload.ExtractCommands(c)
		for _, p := range problems {
			t.Errorf("cases/%s", p.Error())
		}
		for _, cmd := range cmds {
			checked++
			for _, p := range cc.Check(cmd) {
				t.Errorf("cases/%s:%d: %s\n\t%s", cmd.File, cmd.Line, p, cmd)
			}
		}
	}
	if checked < 500 {
		t.Errorf("checked %d commands; the extractor lost some", checked)
	}
}

func TestCommandChecker(t *testing.T) {
	cc := newChecker(t)
	body := "## 排查过程\n\n```bash\nsudo kubectl -n kube-system get pods -o wide | grep coredns\nkubectl describe pod <pod-name>\nk3s kubectl get nodes --show-labels\n```\n\n" +
		"```console\n$ kubectl get pvc \\\n    -A\nNAME   STATUS\n$ cat <<'EOF' | kubectl apply -f -\nkind: Pod\nEOF\n```\n\n" +
		"```bash\nkubectl get pods --no-such-flag\nkubectl gett pods\nk3s certificate rotate --bogus\nk3s kubectl get pods --nope\nfrobnicate --now\n```\n"
	c := &casebook.Case{ID: "K-999", File: "x.md", Body: body, BodyLine: 10}
	cmds, problems := caseload.ExtractCommands(c)
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	var got []string
	for _, cmd := range cmds {
		for _, p := range cc.Check(cmd) {
			got = append(got, p)
		}
	}
	want := []string{
		"kubectl get: unknown flag --no-such-flag",
		`kubectl: unknown subcommand "gett"`,
		"k3s certificate rotate: unknown flag --bogus",
		"kubectl get: unknown flag --nope",
		`command "frobnicate" is not in the allow-list (internal/caseload/testdata/commands)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(cmds) != 12 {
		var all []string
		for _, c := range cmds {
			all = append(all, c.String())
		}
		t.Errorf("extracted %d commands, want 12: %q", len(cmds), all)
	}
	if cmds[0].Line != 13 || cmds[0].Args[0] != "sudo" {
		t.Errorf("first command at line %d: %v", cmds[0].Line, cmds[0])
	}
	// A block that is not valid shell names its line.
	_, problems = caseload.ExtractCommands(&casebook.Case{File: "y.md", Body: "\n```bash\nif then fi (\n```\n", BodyLine: 5})
	if len(problems) != 1 || problems[0].Line != 7 || !strings.Contains(problems[0].Message, "does not parse") {
		t.Errorf("bad block: %v", problems)
	}
}

// destructive recognises commands that lose data, open a security gap or cut
// a cluster off: they must carry a warning (⚠️ or 风险) and a rollback (回滚)
// close beside them in the case text.
func destructive(cmd caseload.Command) bool {
	a := cmd.Args
	for len(a) > 0 && (a[0] == "sudo" || a[0] == "k3s" && len(a) > 1 && a[1] == "kubectl") {
		a = a[1:]
	}
	if len(a) > 0 && a[0] == "kubectl" {
		a = kubectlWords(a)
	}
	if len(a) == 0 {
		return false
	}
	line := strings.Join(a, " ")
	switch {
	case strings.HasPrefix(a[0], "mkfs"), strings.HasSuffix(a[0], "uninstall.sh"):
		return true
	case a[0] == "rm" && strings.Contains(line, "-r") && (strings.Contains(line, "/var/lib/rancher") || strings.Contains(line, "/var/lib/kubelet") || strings.Contains(line, "/opt/local-path")):
		return true
	case a[0] == "k3s" && strings.Contains(line, "rotate-ca"):
		return true
	case a[0] == "etcdctl" && strings.Contains(line, "defrag"):
		return true
	case a[0] == "kubectl" && len(a) > 1:
		switch a[1] {
		case "delete":
			for _, kind := range []string{"pv", "pvc", "persistentvolume", "secret", "namespace", "ns", "node", "statefulset", "validatingwebhookconfiguration", "mutatingwebhookconfiguration", "crd", "customresourcedefinition"} {
				for _, w := range a[2:] {
					k := strings.ToLower(strings.SplitN(w, "/", 2)[0])
					if k == kind || k == kind+"s" || strings.HasPrefix(k, kind+".") || strings.HasPrefix(k, kind+"s.") {
						return true
					}
				}
			}
		case "drain":
			return true
		case "patch":
			return strings.Contains(line, `"Ignore"`) || strings.Contains(line, "failurePolicy")
		}
	}
	return false
}

// kubectlWords drops kubectl's global flags and their values, so the verb
// comes second.
func kubectlWords(a []string) []string {
	out := []string{a[0]}
	for i := 1; i < len(a); i++ {
		switch w := a[i]; {
		case w == "-n" || w == "--namespace" || w == "--context" || w == "--kubeconfig":
			i++
		case strings.HasPrefix(w, "-") && len(out) == 1:
		default:
			out = append(out, w)
		}
	}
	return out
}

// created lists what a case creates itself (kubectl create ns X, mkdir -p
// DIR): removing it again is the case's own clean-up, not a destructive step.
func created(cmds []caseload.Command) map[string]bool {
	out := map[string]bool{}
	for _, cmd := range cmds {
		a := cmd.Args
		if len(a) > 0 && a[0] == "sudo" {
			a = a[1:]
		}
		switch {
		case len(a) >= 4 && a[0] == "kubectl" && a[1] == "create" && (a[2] == "ns" || a[2] == "namespace"):
			out[a[3]] = true
		case len(a) >= 2 && a[0] == "mkdir":
			for _, w := range a[1:] {
				if !strings.HasPrefix(w, "-") {
					out[w] = true
				}
			}
		}
	}
	return out
}

// TestDestructiveCommandsWarned: every destructive command of a case has a
// warning and a rollback within a few lines of it.
func TestDestructiveCommandsWarned(t *testing.T) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	const near = 15 // lines before or after the command
	found := 0
	for _, c := range lib.Cases {
		lines := strings.Split(c.Body, "\n")
		cmds, _ := caseload.ExtractCommands(c)
		own := created(cmds)
		for _, cmd := range cmds {
			if !destructive(cmd) || own[cmd.Args[len(cmd.Args)-1]] {
				continue
			}
			found++
			i := cmd.Line - c.BodyLine
			ctx := strings.Join(lines[max(0, i-near):min(len(lines), i+near+1)], "\n")
			if !strings.Contains(ctx, "⚠️") && !strings.Contains(ctx, "风险") {
				t.Errorf("cases/%s:%d: destructive command without a warning (⚠️ or 风险) within %d lines: %s", c.File, cmd.Line, near, cmd)
			}
			if !strings.Contains(ctx, "回滚") {
				t.Errorf("cases/%s:%d: destructive command without a rollback (回滚) within %d lines: %s", c.File, cmd.Line, near, cmd)
			}
		}
	}
	if found < 10 {
		t.Errorf("found %d destructive commands; the recogniser lost them", found)
	}
	t.Logf("%d destructive commands, each warned with a rollback beside it", found)
}

func TestDestructiveRecogniser(t *testing.T) {
	for _, tt := range []struct {
		cmd  string
		want bool
	}{
		{"sudo mkfs.ext4 /dev/sdb1", true},
		{"kubectl delete pvc data-web-0 -n shop", true},
		{"kubectl delete pod web-0", false},
		{"kubectl -n gatekeeper-system delete secret gatekeeper-webhook-server-cert", true},
		{"k3s kubectl delete secret x", true},
		{"sudo rm -rf /var/lib/rancher/k3s/server/db", true},
		{"rm -f /tmp/x", false},
		{`kubectl patch validatingwebhookconfiguration x --type=json -p '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]'`, true},
		{"kubectl get pv", false},
	} {
		c := &casebook.Case{File: "x.md", Body: "```bash\n" + tt.cmd + "\n```\n"}
		cmds, _ := caseload.ExtractCommands(c)
		if len(cmds) != 1 {
			t.Fatalf("%s: %d commands", tt.cmd, len(cmds))
		}
		if got := destructive(cmds[0]); got != tt.want {
			t.Errorf("destructive(%q) = %v, want %v", tt.cmd, got, tt.want)
		}
	}
}
