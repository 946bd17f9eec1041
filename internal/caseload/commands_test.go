package caseload_test

import (
	"os"
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
)

// freeCommands are shell built-ins and general text and file utilities:
// their names are allowed and their arguments are not checked. The tools a
// case is about (kubectl, k3s, wasmedge, crictl, ctr, journalctl, systemctl,
// openssl, fio, opa, gator, helm, curl, etcdctl …) have specs instead.
var freeCommands = strings.Fields(`
	[ test true false echo printf read cd export set kill wait sleep seq for do done exit source
	cat head tail grep egrep awk sed cut sort uniq wc tr tee paste xargs column base64 sha256sum
	ls cp mv rm mkdir touch chmod chown ln stat du df find date nproc free uptime top ps
	jq yq sh bash diff less more env command which type dpkg apt apt-get dnf yum
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
