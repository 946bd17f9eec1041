package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/kube"
	"github.com/casebook-dev/casebook/internal/redact"
)

// mapSource is a cluster as a map of objects by kind.
type mapSource map[casebook.Kind][]runtime.Object

func (m mapSource) List(_ context.Context, kind casebook.Kind, namespace string) ([]runtime.Object, error) {
	objs, ok := m[kind]
	if !ok {
		return nil, kube.Errorf(casebook.ErrNotServed, kind, namespace)
	}
	var out []runtime.Object
	for _, o := range objs {
		if mo, err := metaOf(o); err == nil && (namespace == "" || mo.GetNamespace() == namespace) {
			out = append(out, o.DeepCopyObject())
		}
	}
	return out, nil
}

func metaOf(o runtime.Object) (metav1.Object, error) {
	m, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", o)
	}
	return m, nil
}

// plant is one credential planted in the corpus: its shape, where it sits,
// and the value that must not come out.
type plant struct{ shape, where, secret string }

type corpus struct {
	plants []plant
	src    mapSource
}

// s plants a new unique password-like value and returns it.
func (c *corpus) s(shape, where string) string {
	v := fmt.Sprintf("Pl4nt%03dq%sZ", len(c.plants), "Xw7Lm2Rv")
	c.plants = append(c.plants, plant{shape, where, v})
	return v
}

// tok plants a value of a given form (a vendor token).
func (c *corpus) tok(shape, where, v string) string {
	c.plants = append(c.plants, plant{shape, where, v})
	return v
}

func (c *corpus) add(kind casebook.Kind, o runtime.Object) { c.src[kind] = append(c.src[kind], o) }

// buildCorpus plants credentials of every shape issue 11 lists, and more,
// wherever a cluster keeps them.
func buildCorpus() *corpus {
	c := &corpus{src: mapSource{}}
	ns := "shop"
	om := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }

	// Environment values.
	env := []corev1.EnvVar{
		{Name: "DB_PASSWORD", Value: c.s("password by name", "env")},
		{Name: "GITHUB_PAT", Value: c.s("GitHub PAT name", "env")},
		{Name: "PGPASS", Value: c.s("PGPASS", "env")},
		{Name: "PGPASSWORD", Value: c.s("PGPASSWORD", "env")},
		{Name: "SLACK_WEBHOOK_URL", Value: "https://hooks.slack.com/services/T0000/B0000/" + c.s("Slack webhook path", "env")},
		{Name: "DATABASE_URL", Value: "postgres://app:" + c.s("URL password", "env") + "@db:5432/app"},
		{Name: "REDIS_URL", Value: "redis://:" + c.s("URL password, no user", "env") + "@redis:6379/0"},
		{Name: "MONGO_URI", Value: "mongodb://app:a/b@" + c.s("URL password with / and @", "env") + "@mongo/app"},
		{Name: "REPO_URL", Value: "https://" + c.s("token-only URL", "env") + "@github.com/org/repo.git"},
		{Name: "API", Value: c.s("innocent name", "env")},
		{Name: "JAVA_OPTS", Value: "-Xmx512m -Djavax.net.ssl.trustStorePassword=" + c.s("JVM system property", "env")},
		{Name: "SPRING_DATASOURCE_PASSWORD", Value: "correct horse " + c.s("multi-word password", "env") + " staple"},
		{Name: "CONFIG_JSON", Value: `{"auth":"` + c.s("JSON auth field", "env") + `"}`},
		{Name: "AWS_SECRET_ACCESS_KEY", Value: c.s("AWS secret key", "env")},
		{Name: "SENTRY_DSN", Value: "https://" + c.s("Sentry DSN key", "env") + "@o1.ingest.sentry.io/1"},
		{Name: "Pwd", Value: c.s("Pwd", "env")},
		{Name: "X", Value: "line1\n" + c.s("multi-line value", "env") + "\nline3"},
		{Name: "LOG_LEVEL", Value: "debug"},
		{Name: "FROM_SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
	}
	header := func(name, value string) corev1.HTTPHeader { return corev1.HTTPHeader{Name: name, Value: value} }
	app := corev1.Container{Name: "app", Image: "registry.example.com/app:1",
		Command: []string{"/app", "--password=" + c.s("--flag=value", "command"), "--token", c.s("--flag value", "command")},
		Args: []string{"-p", c.s("-p value (mysql)", "args"), "-p" + c.s("-pVALUE attached", "args"),
			"--db-url=mysql://root:" + c.s("flag URL password", "args") + "@db/app",
			"--header=Authorization: Bearer " + c.s("Bearer in flag", "args"),
			"--api-key=" + c.s("--api-key=", "args"), "-Dpassword=" + c.s("-Dpassword=", "args"),
			"login", "admin", c.s("positional password", "args"), "--listen=:8080"},
		Env: env,
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz",
			HTTPHeaders: []corev1.HTTPHeader{header("Authorization", "Bearer "+c.s("probe Authorization header", "livenessProbe"))}}}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready",
			HTTPHeaders: []corev1.HTTPHeader{header("X-Api-Key", c.s("probe X-Api-Key header", "readinessProbe"))}}}},
		StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
			Command: []string{"sh", "-c", "curl -fsu admin:" + c.s("curl -u in exec probe", "startupProbe") + " localhost:8080"}}}},
		Lifecycle: &corev1.Lifecycle{
			PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/stop",
				HTTPHeaders: []corev1.HTTPHeader{header("Cookie", "session="+c.s("Cookie header", "preStop"))}}},
			PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo " + c.s("echo in postStart", "postStart") + " > /tmp/t"}}}},
	}
	sidecar := corev1.Container{Name: "cli", Image: "redis:7",
		Command: []string{"redis-cli", "-a", c.s("redis-cli -a", "command")}}
	shell := corev1.Container{Name: "sh", Image: "alpine:3",
		Command: []string{"/bin/sh", "-c", "curl -H 'Authorization: Bearer " + c.s("Bearer in sh -c", "command") + "' http://api/ && mysql -uroot -p" +
			c.s("mysql -pX in sh -c", "command") + " db && export PGPASSWORD=" + c.s("export in sh -c", "command") + "; psql"}}
	pod := &corev1.Pod{ObjectMeta: om("app-1"), Spec: corev1.PodSpec{Containers: []corev1.Container{app, sidecar, shell}}}
	pod.Annotations = map[string]string{
		"kubectl.kubernetes.io/last-applied-configuration": `{"spec":{"containers":[{"env":[{"name":"X","value":"` + c.s("last-applied copy", "annotation") + `"}]}]}}`,
		"example.com/api-token":                            c.s("annotation by name", "annotation"),
		"description":                                      "connect with password " + c.s("annotation prose", "annotation"),
		"ci.example.com/build":                             "GITHUB_TOKEN=" + c.s("annotation env line", "annotation"),
		"prometheus.io/path":                               "/metrics?key=" + c.s("annotation URL query", "annotation"),
		"example.com/cert":                                 "-----BEGIN EC PRIVATE KEY-----\n" + c.s("PEM in annotation", "annotation") + "\n-----END EC PRIVATE KEY-----",
		"example.com/registry":                             `{"auths":{"r.example.com":{"auth":"` + c.s("docker auth in annotation", "annotation") + `"}}}`,
		"module.wasm.image/variant":                        "compat-smart",
		"container.apparmor.security/app":                  "runtime/default",
	}
	pod.Labels = map[string]string{"app": "web", "api-token": c.s("label by name", "label"),
		"session": c.s("session label", "label"), "build": c.tok("GitHub PAT in label", "label", "ghp_"+strings.Repeat("R7x2Kq9Lm4", 3)+"Ab12Cd")}
	pod.Spec.NodeSelector = map[string]string{"api-token": pod.Labels["api-token"]}
	pod.Status = corev1.PodStatus{Message: "token=" + c.tok("GitLab PAT in status", "pod status", "glpat-"+"Xy8Rt2Lm9Qw4Zp7Kb3Nv"),
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "CrashLoopBackOff", Message: "connect postgres://app:" + c.s("URL password in status", "container status") + "@db:5432: refused"}}}}}
	c.add(casebook.KindPod, pod)

	tmpl := func(cs ...corev1.Container) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"},
			Annotations: map[string]string{"vault.example.com/secret": c.s("pod template annotation", "template annotation")}},
			Spec: corev1.PodSpec{Containers: cs}}
	}
	c.add(casebook.KindDeployment, &appsv1.Deployment{ObjectMeta: om("web"), Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: tmpl(corev1.Container{Name: "web", Image: "web:1", Env: []corev1.EnvVar{{Name: "STRIPE_KEY", Value: c.s("Deployment env", "deployment")}}})}})
	c.add(casebook.KindDaemonSet, &appsv1.DaemonSet{ObjectMeta: om("agent"), Spec: appsv1.DaemonSetSpec{
		Template: tmpl(corev1.Container{Name: "agent", Image: "agent:1", Args: []string{"--secret", c.s("DaemonSet args", "daemonset")}})}})
	c.add(casebook.KindStatefulSet, &appsv1.StatefulSet{ObjectMeta: om("db"), Spec: appsv1.StatefulSetSpec{
		Template: tmpl(corev1.Container{Name: "db", Image: "postgres:16", Env: []corev1.EnvVar{{Name: "POSTGRES_PASSWORD", Value: c.s("StatefulSet env", "statefulset")}}})}})
	c.add(casebook.KindJob, &batchv1.Job{ObjectMeta: om("migrate"), Spec: batchv1.JobSpec{
		Template: tmpl(corev1.Container{Name: "m", Image: "migrate:1", Command: []string{"sh", "-c", "migrate -database 'mysql://u:" + c.s("Job sh -c URL", "job") + "@tcp(db)/x' up"}})}})
	c.add(casebook.KindReplicaSet, &appsv1.ReplicaSet{ObjectMeta: om("web-1"), Spec: appsv1.ReplicaSetSpec{
		Template: tmpl(corev1.Container{Name: "web", Image: "web:1", Args: []string{"--auth-token=" + c.s("ReplicaSet args", "replicaset")}})}})

	// ConfigMaps: one value per shape.
	release := helmRelease(c.s("Helm release value", "configmap"))
	cm := &corev1.ConfigMap{ObjectMeta: om("app-config"), Data: map[string]string{}}
	for k, v := range map[string]string{
		"password":       c.s("key by name", "configmap"),
		"config.yaml":    "db:\n  host: db\n  password: " + c.s("YAML password", "configmap") + "\n",
		"block.yaml":     "auth:\n  password: |\n    first " + c.s("block scalar password", "configmap") + "\n    second line\n",
		"folded.yaml":    "auth:\n  token: >-\n    " + c.s("folded block token", "configmap") + "\n",
		"multi.conf":     "password = correct horse " + c.s("multi-word password", "configmap") + " staple",
		"app.properties": "db.pass=" + c.s("db.pass=", "configmap") + "\nlog.level=info\n",
		"conn.txt":       "Server=db;Database=x;User Id=sa;Pwd=" + c.s("Pwd= in connection string", "configmap") + ";",
		"settings.xml":   "<settings><password>" + c.s("XML password element", "configmap") + "</password></settings>",
		"app.env":        "API_TOKEN=" + c.s("dotenv", "configmap") + "\nLOG_LEVEL=debug\n",
		"settings.json":  `{"apiKey": "` + c.s("JSON apiKey", "configmap") + `", "region": "eu-1"}`,
		"db.ini":         "[db]\nuser = app\npassword=" + c.s("INI password", "configmap") + "\n",
		"url.txt":        "amqp://app:p/a@" + c.s("URL password with / and @", "configmap") + "@rabbit:5672/",
		"git.txt":        "https://" + c.s("token-only git URL", "configmap") + "@github.com/org/repo",
		"nginx.conf":     `proxy_set_header Authorization "Bearer ` + c.s("Bearer in nginx conf", "configmap") + `";`,
		"credentials":    "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPL3\naws_secret_access_key = " + c.s("AWS credentials file", "configmap") + "\n",
		".npmrc":         "//registry.npmjs.org/:_authToken=" + c.s("npmrc authToken", "configmap") + "\n",
		".pgpass":        "db:5432:app:app:" + c.s("pgpass line", "configmap") + "\n",
		".netrc":         "machine api.example.com login u password " + c.s("netrc", "configmap") + "\n",
		"htpasswd":       "admin:$apr1$" + c.s("htpasswd hash", "configmap") + "\n",
		"redis.conf":     "requirepass " + c.s("redis requirepass", "configmap") + "\n",
		"my.cnf":         "[client]\npassword=\"" + c.s("my.cnf quoted", "configmap") + "\"\n",
		"smtp.txt":       "smtp://mailer:" + c.s("SMTP URL", "configmap") + "@mail:587",
		"azure.txt":      "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + c.s("Azure AccountKey", "configmap") + ";",
		"jks.properties": "javax.net.ssl.keyStorePassword=" + c.s("keystore password", "configmap"),
		"users.yaml":     "users:\n- name: ops\n  hash: " + c.s("innocent key in list", "configmap") + "\n",
		"kubeconfig":     kubeconfig(c),
		"config.json":    `{"auths":{"registry.example.com":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("u:"+c.s("docker config auth", "configmap"))) + `"}}}`,
		"tls.key":        "-----BEGIN RSA PRIVATE KEY-----\n" + c.s("PEM with END", "configmap") + "\n-----END RSA PRIVATE KEY-----\n",
		"cut.pem":        "-----BEGIN PRIVATE KEY-----\nMIIEv" + c.s("PEM without END", "configmap") + "\n",
		"pgp.asc":        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF" + c.s("PGP private key", "configmap") + "\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----\n",
		"id_ed25519":     "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn" + c.s("OpenSSH key", "configmap") + "\n-----END OPENSSH PRIVATE KEY-----\n",
		"sa.json":        `{"type":"service_account","private_key_id":"` + c.s("GCP private_key_id", "configmap") + `","private_key":"-----BEGIN PRIVATE KEY-----\nMII` + c.s("GCP private_key", "configmap") + `\n-----END PRIVATE KEY-----\n"}`,
		"slack.txt":      "https://hooks.slack.com/services/T000/B000/" + c.s("Slack webhook", "configmap"),
		"Corefile":       ".:53 {\n    forward . 1.1.1.1\n    # key " + c.s("comment in Corefile", "configmap") + "\n}\n",
		"script.sh":      "#!/bin/sh\ncurl -H \"X-Api-Key: " + c.s("X-Api-Key in script", "configmap") + "\" https://api\n",
		"jwt.txt":        c.tok("JWT", "configmap", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJQbDRudCJ9.Zm9vYmFyYmF6cXV4UGw0bnRKV1Q"),
		"values.yaml":    "ingress:\n  enabled: true\nadminPassword: " + c.s("Helm values adminPassword", "configmap") + "\n",
		"ldap.conf":      "bindpw " + c.s("LDAP bindpw", "configmap") + "\n",
		"wpa.conf":       "network={\n  ssid=\"x\"\n  psk=\"" + c.s("WiFi psk", "configmap") + "\"\n}\n",
		"vault.hcl":      "token = \"" + c.tok("Vault token", "configmap", "hvs.CAESIJ"+strings.Repeat("q8Zr2Lx7Wm", 8)) + "\"\n",
		"release.txt":    release,
	} {
		cm.Data[k] = v
	}
	cm.BinaryData = map[string][]byte{"keystore.p12": []byte(c.s("binaryData", "configmap binaryData"))}
	c.add(casebook.KindConfigMap, cm)
	c.add(casebook.KindConfigMap, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "sh.helm.release.v1.shop.v1", Namespace: ns,
		Labels: map[string]string{"owner": "helm", "name": "shop", "status": "deployed"}}, Data: map[string]string{"release": release}})
	c.plants = append(c.plants, plant{"Helm release (base64 gzip JSON)", "configmap", release})

	// Secrets as a source gives them: metadata only, with the annotations
	// appliers leave.
	c.add(casebook.KindSecret, &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns, Annotations: map[string]string{
		"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"password":"` + base64.StdEncoding.EncodeToString([]byte(c.s("Secret last-applied", "secret annotation"))) + `"}}`,
		"example.com/applied":                              c.s("Secret other applier copy", "secret annotation"),
		"objectset.rio.cattle.io/applied":                  wranglerApplied(c),
	}}})

	// Nodes: K3s's node-args with a token, and an unknown annotation.
	c.add(casebook.KindNode, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "edge-1", Annotations: map[string]string{
		"k3s.io/node-args": `["server","--token","` + c.s("node-args --token", "node annotation") + `","--datastore-endpoint","postgres://k3s:` +
			c.s("node-args datastore URL", "node annotation") + `@db:5432/k3s","--agent-token=` + c.s("node-args --agent-token=", "node annotation") + `","--disable","traefik"]`,
		"example.com/bootstrap": c.s("node annotation", "node annotation")}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse,
			Message: "kubelet: Authorization: Bearer " + c.s("Bearer in node condition", "node condition")}}}})

	// Events: kept verbatim for the signal detectors, scanned.
	for i, msg := range []string{
		"Failed to pull image: Authorization: Bearer " + c.s("Bearer in event", "event"),
		"dial postgres://app:" + c.s("URL password in event", "event") + "@db:5432/app: connection refused",
		"config error: password=" + c.s("password= in event", "event"),
		"leaked " + c.tok("GitHub PAT", "event", "ghp_"+strings.Repeat("k2Jh8Lq3Zx", 3)+"Mn45Op"),
		"leaked " + c.tok("GitHub fine-grained PAT", "event", "github_pat_11ABCDEFG0"+strings.Repeat("aB3dE5fG7h", 7)+"iJ"),
		"leaked " + c.tok("GitLab PAT", "event", "glpat-"+"Hq7Lm2Xw9Rv4Kt8Zp3Nb"),
		"leaked " + c.tok("Slack bot token", "event", "xoxb-1234567890123-1234567890123-"+"aB3dE5fG7hJ9kL2mN4pQ6rS"),
		"leaked " + c.tok("AWS access key", "event", "AKIA"+"Q3ZT7XW2LM4RV6NB"),
		"leaked " + c.tok("Stripe live key", "event", "sk_live_"+"51Hq7Lm2Xw9Rv4Kt8Zp3NbQ5"),
		"leaked " + c.tok("npm token", "event", "npm_"+"q7lm2xw9rv4kt8zp3nbq5hc6jd1fy0gs8ae2"),
		"leaked " + c.tok("SendGrid key", "event", "SG."+"Hq7Lm2Xw9Rv4Kt8Zp3NbQ5"+"."+"aB3dE5fG7hJ9kL2mN4pQ6rSaB3dE5fG7hJ9kL2mN4pQ"),
		"leaked " + c.tok("Google API key", "event", "AIza"+"SyHq7Lm2Xw9Rv4Kt8Zp3NbQ5hC6jD1fY0gS"),
		"leaked " + c.tok("JWT in event", "event", "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.c2lnbmF0dXJlUGw0bnRFdmVudEpXVA"),
		"leaked " + c.tok("OpenAI key", "event", "sk-proj-"+strings.Repeat("Hq7Lm2Xw9Rv4Kt8Zp3Nb", 3)+"Hq7Lm2Xw9Rv4Kt"+"T3BlbkFJ"+strings.Repeat("aB3dE5fG7hJ9kL2mN4pQ", 3)+"aB3dE5fG7hJ9kL"),
		"Readiness probe failed: HTTP probe failed with statuscode: 503",
	} {
		c.add(casebook.KindEvent, &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("e%d", i), Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "app-1"}, Reason: "Failed", Message: msg, Type: "Warning"})
	}

	// Services, Ingresses, storage.
	c.add(casebook.KindService, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns,
		Annotations: map[string]string{"example.com/webhook": "https://hooks.example.com/" + c.s("Service annotation", "service annotation")}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}})
	c.add(casebook.KindIngress, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns,
		Annotations: map[string]string{"nginx.ingress.kubernetes.io/auth-url": "https://u:" + c.s("Ingress auth-url password", "ingress annotation") + "@auth/"}}})
	c.add(casebook.KindStorageClass, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "ceph"}, Provisioner: "rbd.csi.ceph.com",
		Parameters: map[string]string{"adminKey": c.s("StorageClass parameter", "storageclass")}})
	c.add(casebook.KindPersistentVolume, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-1"}, Spec: corev1.PersistentVolumeSpec{
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "smb.csi.k8s.io", VolumeHandle: "x",
			VolumeAttributes: map[string]string{"password": c.s("CSI volumeAttributes", "persistentvolume")}}}}})

	// Gatekeeper: a template whose Rego is kept (O-002 checks it) and
	// scanned, a constraint whose parameters are hashed.
	ct := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
		"metadata": map[string]any{"name": "k8sallowedrepos", "annotations": map[string]any{"example.com/owner-token": c.s("template annotation", "constrainttemplate")}},
		"spec": map[string]any{"crd": map[string]any{"spec": map[string]any{"names": map[string]any{"kind": "K8sAllowedRepos"}}},
			"targets": []any{map[string]any{"target": "admission.k8s.gatekeeper.sh", "rego": "package k8sallowedrepos\n" +
				"token := \"" + c.tok("GitHub PAT in Rego", "constrainttemplate rego", "ghp_"+strings.Repeat("Zq8Lm3Xw7R", 3)+"Kt45Vb") + "\"\n" +
				"password := \"" + c.s("password literal in Rego", "constrainttemplate rego") + "\"\n" +
				"violation[{\"msg\": msg}] { msg := \"x\" }\n"}}}}}
	c.add("ConstraintTemplate.templates.gatekeeper.sh", ct)
	c.add("K8sAllowedRepos.constraints.gatekeeper.sh", &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sAllowedRepos", "metadata": map[string]any{"name": "repos"},
		"spec": map[string]any{"parameters": map[string]any{"token": c.s("constraint parameter", "constraint"),
			"repos": []any{"https://u:" + c.s("constraint repo URL", "constraint") + "@registry.example.com"}}}}})
	return c
}

// wranglerApplied is the copy Rancher's wrangler apply (K3s's addon
// controller) keeps of a Secret: gzipped JSON in unpadded base64.
func wranglerApplied(c *corpus) string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	json.NewEncoder(zw).Encode(map[string]any{"apiVersion": "v1", "kind": "Secret",
		"data": map[string]any{"token": base64.StdEncoding.EncodeToString([]byte(c.s("Secret value in wrangler's copy", "secret annotation")))}})
	zw.Close()
	v := base64.RawStdEncoding.EncodeToString(buf.Bytes())
	c.plants = append(c.plants, plant{"wrangler objectset.rio.cattle.io/applied (gzip, base64)", "secret annotation", v})
	return v
}

// kubeconfig is a kubeconfig with every kind of credential it can hold.
func kubeconfig(c *corpus) string {
	return `apiVersion: v1
kind: Config
clusters:
- name: edge
  cluster: {server: "https://10.0.0.1:6443"}
users:
- name: admin
  user:
    client-certificate-data: ` + base64.StdEncoding.EncodeToString([]byte(c.s("kubeconfig client-certificate-data", "configmap"))) + `
    client-key-data: ` + base64.StdEncoding.EncodeToString([]byte(c.s("kubeconfig client-key-data", "configmap"))) + `
    token: ` + c.s("kubeconfig token", "configmap") + `
    password: ` + c.s("kubeconfig password", "configmap") + `
`
}

// helmRelease encodes a release as Helm's configmap driver stores it:
// base64 of gzipped JSON, with the chart values inside.
func helmRelease(secret string) string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	json.NewEncoder(zw).Encode(map[string]any{"name": "shop", "config": map[string]any{"db": map[string]any{"password": secret}}})
	zw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// collectCorpus collects src into a bundle and returns its files.
func collectCorpus(t *testing.T, src casebook.Source, extra ...string) (string, map[string][]byte) {
	t.Helper()
	bundle := filepath.Join(t.TempDir(), "bundle.tar.gz")
	ios, _, _, errOut := TestStreams()
	opts := &CollectOptions{IO: ios, Output: bundle, Now: func() time.Time { return time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC) },
		Source: func(context.Context) (casebook.Source, string, error) { return src, "corpus", nil }, Logs: true}
	if len(extra) > 0 {
		opts.RedactConfig = extra[0]
	}
	if err := collectRun(context.Background(), opts); err != nil {
		t.Fatalf("collect: %v\n%s", err, errOut)
	}
	raw, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	return bundle, untarBundle(t, raw)
}

func untarBundle(t *testing.T, raw []byte) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = b
	}
}

// leaks returns the planted values found in a bundle, as they are or in
// base64.
func leaks(plants []plant, files map[string][]byte) []string {
	var out []string
	for _, p := range plants {
		forms := []string{p.secret, base64.StdEncoding.EncodeToString([]byte(p.secret)), base64.RawStdEncoding.EncodeToString([]byte(p.secret))}
		for name, data := range files {
			for _, f := range forms {
				if bytes.Contains(data, []byte(f)) {
					i := bytes.Index(data, []byte(f))
					out = append(out, fmt.Sprintf("%s (%s) in %s: …%s…", p.shape, p.where, name, data[max(0, i-60):min(len(data), i+len(f)+10)]))
					break
				}
			}
		}
	}
	return out
}

// TestCollectCorpusLeaksNothing plants credentials of over a hundred
// shapes wherever a cluster keeps them, collects a bundle, and counts the
// planted values that come out, as they are or in base64: it must be 0.
func TestCollectCorpusLeaksNothing(t *testing.T) {
	c := buildCorpus()
	if len(c.plants) < 100 {
		t.Fatalf("the corpus plants %d credentials; it needs at least 100 shapes", len(c.plants))
	}
	_, files := collectCorpus(t, c.src)
	found := leaks(c.plants, files)
	t.Logf("corpus: %d planted credentials; leaks: %d", len(c.plants), len(found))
	for _, l := range found {
		t.Errorf("leak: %s", l)
	}
	// What no one needs to hide is still there.
	all := string(bytes.Join(mapValues(files), []byte("\n")))
	for _, keep := range []string{"LOG_LEVEL", "secretKeyRef", "registry.example.com/app:1", "compat-smart", "--listen", "traefik",
		"Readiness probe failed: HTTP probe failed with statuscode: 503", "K8sAllowedRepos", "violation[{", "app: web", "CrashLoopBackOff"} {
		if !strings.Contains(all, keep) {
			t.Errorf("redaction removed %q, which is not a credential", keep)
		}
	}
	for name, data := range files {
		if name != "redaction-report.json" && bytes.Contains(data, []byte("last-applied-configuration")) {
			t.Errorf("a last-applied-configuration annotation is in %s", name)
		}
	}
	// Selectors still match the labels they matched: the credential-named
	// label and the nodeSelector that names it hash alike.
	pods := string(files["namespaces/shop/pods.yaml"])
	if m := regexp.MustCompile(`\n\s+api-token: (<redacted:sha256:[0-9a-f]+>)`).FindAllStringSubmatch(pods, -1); len(m) != 2 || m[0][1] != m[1][1] {
		t.Errorf("label and nodeSelector api-token should carry the same hash: %v", m)
	}

	var rep redact.Report
	if err := json.Unmarshal(files["redaction-report.json"], &rep); err != nil {
		t.Fatalf("redaction-report.json: %v", err)
	}
	for _, rule := range []string{"env-value", "arg", "http-header", "annotation", "label", "configmap-value", "configmap-binary",
		"last-applied", "secret-annotation", "custom-resource", "free-form-map"} {
		if rep.Counts[rule]["hashed"]+rep.Counts[rule]["dropped"] == 0 {
			t.Errorf("the report has nothing under rule %s: %v", rule, rep.Counts)
		}
	}
	scanned := 0
	for rule, n := range rep.Counts {
		if strings.HasPrefix(rule, "scanner:") {
			scanned += n["hashed"]
		}
	}
	if scanned == 0 {
		t.Errorf("the scanner hashed nothing: %v", rep.Counts)
	}
	if rep.Scanner.Rules < 200 || rep.Scanner.Gitleaks == "" {
		t.Errorf("scanner = %+v", rep.Scanner)
	}
}

func mapValues(m map[string][]byte) [][]byte {
	var out [][]byte
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestCollectTeamRules: --redact-config adds a team's rule, which hashes
// a value the built-in rules let through; a broken file is a usage error.
func TestCollectTeamRules(t *testing.T) {
	const code = "ACME-BADGE-448812"
	src := mapSource{casebook.KindEvent: {&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "shop"},
		Message: "door opened with " + code}}}
	_, files := collectCorpus(t, src)
	if !bytes.Contains(files["namespaces/shop/events.yaml"], []byte(code)) {
		t.Fatalf("without team rules the badge code is not a credential; events:\n%s", files["namespaces/shop/events.yaml"])
	}
	rules := filepath.Join(t.TempDir(), "rules.toml")
	os.WriteFile(rules, []byte("[[rules]]\nid = \"acme-badge\"\nregex = '''ACME-BADGE-[0-9]{6}'''\nkeywords = [\"acme-badge\"]\n"), 0o600)
	_, files = collectCorpus(t, src, rules)
	if bytes.Contains(files["namespaces/shop/events.yaml"], []byte(code)) {
		t.Errorf("the team rule did not hash the badge code:\n%s", files["namespaces/shop/events.yaml"])
	}
	if !bytes.Contains(files["redaction-report.json"], []byte("scanner:acme-badge")) {
		t.Errorf("the report does not name the team rule")
	}
	os.WriteFile(rules, []byte("[[rules]]\nid = \"x\"\nregex = '''(unclosed'''\n"), 0o600)
	ios, _, _, _ := TestStreams()
	err := collectRun(context.Background(), &CollectOptions{IO: ios, Output: filepath.Join(t.TempDir(), "b.tar.gz"), RedactConfig: rules, Now: time.Now,
		Source: func(context.Context) (casebook.Source, string, error) { return src, "x", nil }})
	if err == nil || !strings.Contains(err.Error(), "rule x") {
		t.Errorf("a broken rule file: err = %v", err)
	}
}
