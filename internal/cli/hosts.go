package cli

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// allowedHostsHelp explains --allowed-hosts on serve and agent.
const allowedHostsHelp = "also answer to these host `NAMES` (Host header, e.g. casebook.example.com); " +
	"IP addresses, localhost and the --addr host are always allowed, other names are refused so that a DNS-rebinding page cannot read the server"

func addAllowedHostsFlag(cmd *cobra.Command, hosts *[]string) {
	cmd.Flags().StringSliceVar(hosts, "allowed-hosts", nil, allowedHostsHelp)
}

// serverHosts is the allow-list of a server listening on addr: the names
// given, and the host of addr when it is a name.
func serverHosts(addr string, given []string) []string {
	out := append([]string(nil), given...)
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" && net.ParseIP(host) == nil {
		out = append(out, host)
	}
	return out
}

// Files of a pod that tell the agent where it runs.
var (
	podNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
	resolvConfFile   = "/etc/resolv.conf"
)

// agentServiceName is the agent's Service in deploy/casebook-agent.yaml.
const agentServiceName = "casebook-agent"

// inClusterHosts are the names a client in the cluster reaches the agent's
// Service by: service, service.namespace, service.namespace.svc and
// service.namespace.svc.<cluster domain>, the domain taken from the pod's
// resolv.conf search list (cluster.local when it has none). Out of a pod
// it is nil. A wildcard such as "casebook-agent.*" would let a rebinding
// page under any domain in, so every name is spelled out.
func inClusterHosts(service string) []string {
	b, err := os.ReadFile(podNamespaceFile)
	ns := strings.TrimSpace(string(b))
	if err != nil || ns == "" {
		return nil
	}
	domain := "cluster.local"
	if rc, err := os.ReadFile(resolvConfFile); err == nil {
		if d := clusterDomain(rc, ns); d != "" {
			domain = d
		}
	}
	return []string{service, service + "." + ns, service + "." + ns + ".svc", service + "." + ns + ".svc." + domain}
}

// clusterDomain finds the cluster domain in a pod's resolv.conf, whose
// search list the kubelet writes as "<ns>.svc.<domain> svc.<domain> <domain>".
func clusterDomain(resolvConf []byte, ns string) string {
	sc := bufio.NewScanner(bytes.NewReader(resolvConf))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "search" {
			continue
		}
		for _, d := range f[1:] {
			if rest, ok := strings.CutPrefix(strings.TrimSuffix(d, "."), ns+".svc."); ok && rest != "" {
				return rest
			}
		}
	}
	return ""
}
