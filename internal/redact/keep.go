package redact

import (
	"fmt"
	"regexp"
	"strings"
)

// Needs is what one detector reads by name from the values collect would
// otherwise hash: the annotations it reads, the command-line flags whose
// values it parses, the environment variables and ConfigMap keys it reads,
// and the fields of custom resources. Values it does not name leave a
// cluster only as keyed hashes. A detector that starts reading a new value
// by name declares it here, or the redacted bundle hides it (the
// round-trip test over every fixture says so).
type Needs struct {
	// Detector is the case ID of the detector that reads these.
	Detector string
	// Annotations are annotation keys whose values are kept.
	Annotations []string
	// ArgAnnotations are kept annotations that hold a JSON array of
	// command-line arguments (k3s.io/node-args); their arguments are
	// redacted like a container's.
	ArgAnnotations []string
	// Flags are command-line flags whose values are kept when the value
	// has the expected shape.
	Flags []Flag
	// Words are bare arguments kept as they are (subcommands).
	Words []string
	// EnvNames are environment variables whose values are kept.
	EnvNames []string
	// ConfigMapKeys are ConfigMap keys whose values are kept.
	ConfigMapKeys []string
	// Fields are field paths of custom resources kept under their kind:
	// "ConstraintTemplate.templates.gatekeeper.sh" → "spec.targets".
	Fields map[string][]string
}

// Flag is a command-line flag whose value a detector parses. The value
// is kept only when Value, an anchored regular expression, matches it,
// so a flag shared with other programs (-p is also mysql's password)
// keeps only values of the shape the detector expects.
type Flag struct {
	Name  string
	Value string
}

// Detectors are the declarations of casebook's detectors, in one place.
// Each entry names what its detector reads in internal/detectors.
var Detectors = []Needs{
	{Detector: "K-001", Annotations: []string{"k3s.io/internal-ip", "flannel.alpha.coreos.com/public-ip"},
		ArgAnnotations: []string{"k3s.io/node-args"}},
	{Detector: "K-003", Annotations: []string{"pv.kubernetes.io/provisioned-by", "volume.kubernetes.io/selected-node"},
		// local-path-provisioner's helper pod: -p <dir>/pvc-<uid>_<namespace>_<claim>.
		Flags: []Flag{{Name: "-p", Value: `/[A-Za-z0-9_./-]*/pvc-[0-9a-f-]{36}_[a-z0-9.-]+_[A-Za-z0-9._-]+`}}},
	{Detector: "K-004", ArgAnnotations: []string{"k3s.io/node-args"}, Words: []string{"server", "agent"},
		Flags: []Flag{{Name: "--disable-network-policy", Value: `true|false`}, {Name: "--flannel-backend", Value: `[a-z0-9-]+`}}},
	{Detector: "N-001", ArgAnnotations: []string{"k3s.io/node-args"}, Words: []string{"server", "agent"},
		Annotations: []string{"flannel.alpha.coreos.com/public-ip", "flannel.alpha.coreos.com/backend-type", "flannel.alpha.coreos.com/backend-data"},
		Flags: []Flag{{Name: "--flannel-backend", Value: `[a-z0-9-]+`}, {Name: "--flannel-external-ip", Value: `true|false`},
			{Name: "--node-ip", Value: `[0-9a-fA-F:.,]+`}, {Name: "--flannel-iface", Value: `[A-Za-z0-9._@-]+`}}},
	{Detector: "N-003", Annotations: []string{"ingressclass.kubernetes.io/is-default-class", "kubernetes.io/ingress.class"},
		ArgAnnotations: []string{"k3s.io/node-args"}, Words: []string{"server", "agent"},
		Flags: []Flag{{Name: "--disable", Value: `[a-z0-9-]+(,[a-z0-9-]+)*`}}},
	{Detector: "S-001", Annotations: []string{"volume.kubernetes.io/selected-node", "storageclass.kubernetes.io/is-default-class",
		"storageclass.beta.kubernetes.io/is-default-class", "pv.kubernetes.io/provisioned-by"},
		ArgAnnotations: []string{"k3s.io/node-args"}, Flags: []Flag{{Name: "--disable", Value: `[a-z0-9-]+(,[a-z0-9-]+)*`}}},
	{Detector: "O-002", Fields: map[string][]string{
		"ConstraintTemplate.templates.gatekeeper.sh": {"spec.crd.spec.names", "spec.targets"}}},
	{Detector: "O-003", Flags: []Flag{{Name: "--operation", Value: `[a-z-]+(,[a-z-]+)*`}},
		Fields: map[string][]string{"ConstraintTemplate.templates.gatekeeper.sh": {"spec.crd.spec.names"}}},
	{Detector: "W-001", Annotations: []string{"module.wasm.image/variant", "run.oci.handler"}},
}

// SecretAnnotations are the annotations a Secret keeps when it is read as
// metadata. Any other annotation may hold a copy of the Secret with its
// data, so the rest never leave the API server: kubectl apply keeps the
// whole applied object in kubectl.kubernetes.io/last-applied-configuration,
// and Rancher's wrangler apply, which K3s's addon controller uses for the
// manifests in /var/lib/rancher/k3s/server/manifests, keeps it gzipped and
// base64-encoded in objectset.rio.cattle.io/applied, every string cut to
// its first 64 characters, which leaves most Secret values whole
// (rancher/wrangler pkg/apply/desiredset_compare.go: serializeApplied,
// pruneValues, appliedToAnnotation). No detector reads a Secret's
// annotations; these are kept for people reading a bundle.
var SecretAnnotations = []string{
	"kubernetes.io/service-account.name", "kubernetes.io/service-account.uid",
	"cert-manager.io/certificate-name", "cert-manager.io/issuer-name", "cert-manager.io/issuer-kind", "cert-manager.io/issuer-group",
	"meta.helm.sh/release-name", "meta.helm.sh/release-namespace",
}

// Keep is the merged keep-list of a set of declarations.
type Keep struct {
	annotations    map[string]bool
	argAnnotations map[string]bool
	flags          map[string][]*regexp.Regexp
	words          map[string]bool
	envNames       map[string]bool
	configMapKeys  map[string]bool
	fields         map[string][]string
	// By names the detectors that declared each entry, for the report.
	By map[string][]string
}

// NewKeep merges declarations into one keep-list.
func NewKeep(needs ...Needs) (*Keep, error) {
	k := &Keep{annotations: map[string]bool{}, argAnnotations: map[string]bool{}, flags: map[string][]*regexp.Regexp{},
		words: map[string]bool{}, envNames: map[string]bool{}, configMapKeys: map[string]bool{}, fields: map[string][]string{},
		By: map[string][]string{}}
	by := func(entry, det string) {
		for _, d := range k.By[entry] {
			if d == det {
				return
			}
		}
		k.By[entry] = append(k.By[entry], det)
	}
	for _, n := range needs {
		add := func(set map[string]bool, what string, names []string) {
			for _, name := range names {
				set[name] = true
				if what != "" {
					by(what+" "+name, n.Detector)
				}
			}
		}
		add(k.annotations, "annotation", n.Annotations)
		add(k.argAnnotations, "annotation", n.ArgAnnotations)
		add(k.words, "", n.Words)
		add(k.envNames, "env", n.EnvNames)
		add(k.configMapKeys, "configmap key", n.ConfigMapKeys)
		for _, f := range n.Flags {
			re, err := regexp.Compile(`^(?:` + f.Value + `)$`)
			if err != nil {
				return nil, fmt.Errorf("%s: flag %s: %w", n.Detector, f.Name, err)
			}
			k.flags[f.Name] = append(k.flags[f.Name], re)
			by("flag "+f.Name, n.Detector)
		}
		for kind, paths := range n.Fields {
			k.fields[kind] = append(k.fields[kind], paths...)
			for _, p := range paths {
				by(kind+" "+p, n.Detector)
			}
		}
	}
	return k, nil
}

// flagValue reports whether the value of a flag is kept.
func (k *Keep) flagValue(name, value string) bool {
	for _, re := range k.flags[name] {
		if re.MatchString(value) {
			return true
		}
	}
	return false
}

// field reports whether a field path of a custom resource kind is kept: it
// is a declared path or lies under one.
func (k *Keep) field(kind, path string) bool {
	for _, p := range k.fields[kind] {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

// fieldAncestor reports whether a declared path of kind lies under path, so
// the walk must go down into it.
func (k *Keep) fieldAncestor(kind, path string) bool {
	for _, p := range k.fields[kind] {
		if strings.HasPrefix(p, path+".") {
			return true
		}
	}
	return false
}
