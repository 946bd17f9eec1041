package snapshot

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/kube"
)

const planted = "pl4nted-9c0ffee"

func TestLooksLikeCredential(t *testing.T) {
	for name, want := range map[string]bool{
		"DB_PASSWORD": true, "password": true, "dbPassword": true, "DBPASSWORD": true, "API_KEY": true, "apiKey": true,
		"AWS_SECRET_ACCESS_KEY": true, "GITHUB_TOKEN": true, "tls.key": true, "ssh-private-key": true, "credentials.json": true,
		"SESSION_SECRET": true, "auth": true, "PGPASSWORD": true,
		"LOG_LEVEL": false, "KEYCLOAK_URL": false, "monkey": false, "CONFIG_MOUNT_PATH": false, "POD_NAMESPACE": false,
		"Corefile": false, "NodeHosts": false, "config.json": false, "DEST_IPS": false,
	} {
		if got := LooksLikeCredential(name); got != want {
			t.Errorf("LooksLikeCredential(%q) = %v, want %v", name, got, want)
		}
	}
}

// plantedObjects are cluster objects with credentials planted everywhere a
// cluster keeps them, next to values that must survive.
func plantedObjects() map[*kube.Info][]runtime.Object {
	lastApplied := map[string]string{kube.LastApplied: `{"data":{"password":"` + planted + `"}}`}
	secret := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", Annotations: lastApplied}}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop",
		Annotations: map[string]string{kube.LastApplied: planted, "example.com/api-token": planted, "team": "payments"}},
		Data: map[string]string{
			"db-password":   planted,
			"config.yaml":   "db:\n  host: db\n  password: " + planted + "\n  url: postgres://app:" + planted + "@db:5432/app\nlogLevel: debug\n",
			"settings.json": `{"apiKey": "` + planted + `", "region": "eu-1"}`,
			"app.env":       "API_TOKEN=" + planted + "\nLOG_LEVEL=debug\n",
			"server.pem":    "-----BEGIN RSA PRIVATE KEY-----\n" + planted + "\n-----END RSA PRIVATE KEY-----\n",
		},
		BinaryData: map[string][]byte{"keystore": []byte(planted)}}
	container := corev1.Container{Name: "app", Image: "registry.example.com/app:1",
		Command: []string{"/app", "--db-password=" + planted, "--token", planted, "--listen=:8080"},
		Args:    []string{"--dsn", "mysql://root:" + planted + "@db/app", "--api-key", planted},
		Env: []corev1.EnvVar{
			{Name: "DB_PASSWORD", Value: planted}, {Name: "AWS_SECRET_ACCESS_KEY", Value: planted},
			{Name: "DATABASE_URL", Value: "postgres://app:" + planted + "@db/app"},
			{Name: "LOG_LEVEL", Value: "debug"},
			{Name: "FROM_SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
		}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app-1", Namespace: "shop", Annotations: lastApplied},
		Spec: corev1.PodSpec{Containers: []corev1.Container{container}}}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{InitContainers: []corev1.Container{container}}}}}
	return map[*kube.Info][]runtime.Object{
		kube.Lookup(casebook.KindSecret):     {secret},
		kube.Lookup(casebook.KindConfigMap):  {cm},
		kube.Lookup(casebook.KindPod):        {pod},
		kube.Lookup(casebook.KindDeployment): {dep},
	}
}

// TestBundleCarriesNoPlantedCredential writes planted credentials through
// the bundle writer: not one may survive, and what is not a credential must.
func TestBundleCarriesNoPlantedCredential(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, time.Date(2025, 6, 18, 9, 30, 0, 0, time.UTC))
	for info, objs := range plantedObjects() {
		if err := w.Add(info, objs); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bundle.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for name, data := range untarFiles(t, buf.Bytes()) {
		all.WriteString("== " + name + "\n")
		all.Write(data)
	}
	text := all.String()
	if strings.Contains(text, planted) {
		i := strings.Index(text, planted)
		t.Fatalf("a planted credential survived:\n%s", text[max(0, i-300):min(len(text), i+50)])
	}
	for _, keep := range []string{"LOG_LEVEL", "debug", "region", "eu-1", "host: db", "--listen=:8080", "payments", "secretKeyRef", "registry.example.com/app:1"} {
		if !strings.Contains(text, keep) {
			t.Errorf("redaction removed %q, which is not a credential", keep)
		}
	}
	// The bundle reads back as a snapshot.
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) > 0 {
		t.Errorf("warnings: %v", s.Warnings)
	}
	pods, _ := s.List(context.Background(), casebook.KindPod, "shop")
	if len(pods) != 1 {
		t.Fatalf("pods = %d", len(pods))
	}
	env := pods[0].(*corev1.Pod).Spec.Containers[0].Env
	if env[0].Value != Redacted || env[3].Value != "debug" {
		t.Errorf("env after redaction = %+v", env)
	}
}

func untarFiles(t *testing.T, raw []byte) map[string][]byte {
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
		b, _ := io.ReadAll(tr)
		out[h.Name] = b
	}
}
