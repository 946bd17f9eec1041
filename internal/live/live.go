// Package live is cluster state read from a running cluster with client-go.
// It only ever sends GET requests (get, list and, for watches, watch); it
// lists in pages, a few kinds at a time, each request with a timeout; and it
// reads Secrets as metadata only, so that Secret data never leaves the API
// server. A transport guard refuses any request that would break these
// rules, whatever the code above it does.
package live

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/kube"
	"github.com/casebook-dev/casebook/internal/redact"
)

// Options tune how the cluster is read.
type Options struct {
	// Namespace limits AllNamespaces lists to one namespace; "" reads all.
	Namespace string
	// PageSize is the limit of each list request (default 500).
	PageSize int64
	// Concurrency bounds the lists in flight (default 4).
	Concurrency int
	// Timeout bounds each request (default 30s) when the config sets none.
	Timeout time.Duration
	// WrapTransport, when set, wraps the transport outside the read-only
	// guard, so that it sees every request casebook tries to send (tests
	// record them).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Source reads a live cluster.
type Source struct {
	opts    Options
	clients map[schema.GroupVersion]rest.Interface
	raw     rest.Interface
	meta    metadata.Interface
	dyn     dynamic.Interface
	disc    discovery.DiscoveryInterface
	sem     chan struct{}

	mapperOnce sync.Once
	mapper     meta.RESTMapper
}

var _ casebook.Source = (*Source)(nil)

// New returns a Source over the cluster cfg points at. cfg is copied; its
// transport is wrapped in the read-only guard.
func New(cfg *rest.Config, opts Options) (*Source, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = 500
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.Timeout == 0 {
		cfg.Timeout = opts.Timeout
	}
	// client-go's default of 5 requests a second would make a large cluster
	// a minute-long read; the API server's own fairness still applies.
	if cfg.QPS == 0 {
		cfg.QPS = 50
	}
	if cfg.Burst == 0 {
		cfg.Burst = 100
	}
	cfg.Wrap(ReadOnlyAt(HostPath(cfg.Host)))
	if opts.WrapTransport != nil {
		cfg.Wrap(opts.WrapTransport)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "casebook (read-only)"
	}

	s := &Source{opts: opts, clients: map[schema.GroupVersion]rest.Interface{}, sem: make(chan struct{}, opts.Concurrency)}
	for _, info := range kube.Builtins() {
		gv := info.GVK.GroupVersion()
		if info.MetadataOnly || s.clients[gv] != nil {
			continue
		}
		c := rest.CopyConfig(cfg)
		c.GroupVersion = &gv
		c.APIPath = "/apis"
		if gv.Group == "" {
			c.APIPath = "/api"
		}
		// Protobuf is several times cheaper to decode than JSON for large lists.
		c.ContentType = runtime.ContentTypeProtobuf
		c.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
		c.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
		rc, err := rest.RESTClientFor(c)
		if err != nil {
			return nil, fmt.Errorf("client for %s: %w", gv, err)
		}
		s.clients[gv] = rc
	}
	// Logs and the server's own endpoints answer text, and their errors
	// come as JSON Status objects: a JSON client reads those.
	raw := rest.CopyConfig(cfg)
	raw.GroupVersion = &schema.GroupVersion{Version: "v1"}
	raw.APIPath = "/api"
	raw.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.RESTClientFor(raw)
	if err != nil {
		return nil, fmt.Errorf("client for logs: %w", err)
	}
	s.raw = rc
	if s.meta, err = metadata.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if s.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if s.disc, err = discovery.NewDiscoveryClientForConfig(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// List lists kind in namespace, page by page. Forbidden kinds fail with
// casebook.ErrForbidden and kinds the cluster does not serve with
// casebook.ErrNotServed.
func (s *Source) List(ctx context.Context, kind casebook.Kind, namespace string) ([]runtime.Object, error) {
	if namespace == casebook.AllNamespaces {
		namespace = s.opts.Namespace
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()

	info := kube.Lookup(kind)
	var (
		objs []runtime.Object
		err  error
	)
	switch {
	case info == nil:
		objs, err = s.listDynamic(ctx, kind, namespace)
	case info.MetadataOnly:
		objs, err = s.listMetadata(ctx, info, namespace)
	default:
		if !info.Namespaced {
			namespace = ""
		}
		objs, err = s.listTyped(ctx, info, namespace)
	}
	if err != nil {
		return nil, kube.Errorf(classify(err), kind, namespace)
	}
	return objs, nil
}

// pages runs a paginated list. When the server forgets the continue token
// between pages (410 Gone), it lists again in one request, as client-go's
// pager does.
func (s *Source) pages(ctx context.Context, list func(opts metav1.ListOptions) (runtime.Object, error), each func(runtime.Object) error) error {
	opts := metav1.ListOptions{Limit: s.opts.PageSize}
	for {
		obj, err := list(opts)
		if err != nil {
			if apierrors.IsResourceExpired(err) && opts.Continue != "" {
				return errRestart
			}
			return err
		}
		if err := each(obj); err != nil {
			return err
		}
		lm, err := meta.ListAccessor(obj)
		if err != nil {
			return err
		}
		if lm.GetContinue() == "" {
			return nil
		}
		opts.Continue = lm.GetContinue()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

var errRestart = errors.New("continue token expired")

func (s *Source) listTyped(ctx context.Context, info *kube.Info, namespace string) ([]runtime.Object, error) {
	client := s.clients[info.GVK.GroupVersion()]
	listGVK := info.GVK.GroupVersion().WithKind(info.GVK.Kind + "List")
	run := func(pageSize int64) ([]runtime.Object, error) {
		var out []runtime.Object
		list := func(opts metav1.ListOptions) (runtime.Object, error) {
			opts.Limit = pageSize
			obj, err := scheme.Scheme.New(listGVK)
			if err != nil {
				return nil, err
			}
			err = client.Get().NamespaceIfScoped(namespace, namespace != "").Resource(info.Resource).
				VersionedParams(&opts, scheme.ParameterCodec).Do(ctx).Into(obj)
			return obj, err
		}
		err := s.pages(ctx, list, func(obj runtime.Object) error {
			items, err := meta.ExtractList(obj)
			if err != nil {
				return err
			}
			for _, it := range items {
				it.GetObjectKind().SetGroupVersionKind(info.GVK)
			}
			out = append(out, items...)
			return nil
		})
		return out, err
	}
	out, err := run(s.opts.PageSize)
	if errors.Is(err, errRestart) {
		return run(0)
	}
	return out, err
}

func (s *Source) listMetadata(ctx context.Context, info *kube.Info, namespace string) ([]runtime.Object, error) {
	var out []runtime.Object
	res := s.meta.Resource(info.GVR())
	list := func(opts metav1.ListOptions) (runtime.Object, error) {
		if namespace != "" {
			return res.Namespace(namespace).List(ctx, opts)
		}
		return res.List(ctx, opts)
	}
	err := s.pages(ctx, list, func(obj runtime.Object) error {
		l := obj.(*metav1.PartialObjectMetadataList)
		for i := range l.Items {
			p := &l.Items[i]
			p.SetGroupVersionKind(info.GVK)
			p.ManagedFields = nil
			p.Annotations = safeAnnotations(p.Annotations)
			out = append(out, p)
		}
		return nil
	})
	if errors.Is(err, errRestart) {
		return nil, fmt.Errorf("list %s: continue token expired", info.Resource)
	}
	return out, err
}

// safeAnnotations keeps the annotations of a metadata-only object (a
// Secret) that cannot hold its data: kubectl apply's last-applied copy
// holds a Secret's data in full, and other appliers keep copies under keys
// of their own, so only the keys redact.SecretAnnotations names survive.
func safeAnnotations(a map[string]string) map[string]string {
	var out map[string]string
	for _, k := range redact.SecretAnnotations {
		if v, ok := a[k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

func (s *Source) restMapper() meta.RESTMapper {
	s.mapperOnce.Do(func() {
		s.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(s.disc))
	})
	return s.mapper
}

func (s *Source) listDynamic(ctx context.Context, kind casebook.Kind, namespace string) ([]runtime.Object, error) {
	gk := kube.ParseKind(kind)
	m, err := s.restMapper().RESTMapping(gk)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, &sentinelError{sentinel: casebook.ErrNotServed, err: err}
		}
		return nil, err
	}
	res := s.dyn.Resource(m.Resource)
	var ri dynamic.ResourceInterface = res
	if m.Scope.Name() == meta.RESTScopeNameNamespace && namespace != "" {
		ri = res.Namespace(namespace)
	}
	var out []runtime.Object
	list := func(opts metav1.ListOptions) (runtime.Object, error) { return ri.List(ctx, opts) }
	err = s.pages(ctx, list, func(obj runtime.Object) error {
		return meta.EachListItem(obj, func(o runtime.Object) error {
			out = append(out, o)
			return nil
		})
	})
	return out, err
}

// sentinelError reads as err but also matches a casebook sentinel.
type sentinelError struct {
	sentinel error
	err      error
}

func (e *sentinelError) Error() string   { return e.err.Error() }
func (e *sentinelError) Unwrap() []error { return []error{e.sentinel, e.err} }

// classify marks forbidden and unserved kinds with casebook's sentinels.
func classify(err error) error {
	switch {
	case apierrors.IsForbidden(err):
		return &sentinelError{sentinel: casebook.ErrForbidden, err: err}
	case apierrors.IsNotFound(err):
		return &sentinelError{sentinel: casebook.ErrNotServed, err: err}
	}
	return err
}

// ReadOnly wraps a transport so that it refuses every request casebook must
// never send: any method but GET, and any read of Secrets that is not a
// metadata-only list. It is the last line of defence, below client-go.
// It finds the API path wherever it sits in the URL, so a server reached
// through a proxy path (https://rancher/k8s/clusters/c-x) is guarded too;
// ReadOnlyAt also knows the prefix.
func ReadOnly(rt http.RoundTripper) http.RoundTripper { return readOnly{next: rt} }

// ReadOnlyAt is ReadOnly for a server whose API sits under a path prefix,
// the path of the rest.Config's Host: requests outside the prefix are
// refused, and the API path is read after it.
func ReadOnlyAt(prefix string) func(http.RoundTripper) http.RoundTripper {
	prefix = "/" + strings.Trim(prefix, "/")
	if prefix == "/" {
		prefix = ""
	}
	return func(rt http.RoundTripper) http.RoundTripper { return readOnly{next: rt, prefix: prefix} }
}

type readOnly struct {
	next   http.RoundTripper
	prefix string
}

func (r readOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := r.check(req); err != nil {
		// The metadata client also offers plain JSON, which a server that
		// cannot transform would answer with whole Secrets: keep only the
		// metadata alternatives, then check again.
		if !errors.Is(err, errWholeSecret) {
			return nil, err
		}
		accept := metadataAccept(req.Header.Get("Accept"))
		if accept == "" {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Header.Set("Accept", accept)
		if err := r.check(req); err != nil {
			return nil, err
		}
	}
	return r.next.RoundTrip(req)
}

func (r readOnly) check(req *http.Request) error {
	if r.prefix != "" {
		p := req.URL.Path
		if p != r.prefix && !strings.HasPrefix(p, r.prefix+"/") {
			return fmt.Errorf("casebook is read-only: refusing %s %s outside the API path %s", req.Method, p, r.prefix)
		}
	}
	if err := CheckRequest(req); err != nil {
		return err
	}
	return checkSubresource(req, strings.TrimPrefix(req.URL.Path, r.prefix))
}

// errWholeSecret marks a Secret list that asks for more than metadata.
var errWholeSecret = errors.New("casebook reads Secrets as metadata only")

// CheckRequest returns why a request would break casebook's read-only
// rules, or nil. It looks for a Secret path at every place in the URL's
// path, so that a proxy prefix does not hide one; a path it cannot read
// plainly (dot segments, an encoded slash) is refused.
func CheckRequest(req *http.Request) error {
	if req.Method != http.MethodGet {
		return fmt.Errorf("casebook is read-only: refusing %s %s", req.Method, req.URL.Path)
	}
	if raw := req.URL.EscapedPath(); strings.Contains(strings.ToLower(raw), "%2f") || strings.Contains(raw, "%5c") || strings.Contains(raw, "%5C") {
		return fmt.Errorf("casebook is read-only: refusing GET %s with an encoded slash", raw)
	}
	segs, err := pathSegments(req.URL.Path)
	if err != nil {
		return err
	}
	if name, isSecret := secretRequest(segs); isSecret {
		if name != "" {
			return fmt.Errorf("casebook never reads a Secret: refusing GET %s", req.URL.Path)
		}
		if !metadataOnly(req.Header.Get("Accept")) {
			return fmt.Errorf("%w: refusing GET %s with Accept %q", errWholeSecret, req.URL.Path, req.Header.Get("Accept"))
		}
	}
	return nil
}

// pathSegments splits a URL path, dropping empty segments ("//"); dot
// segments, which a proxy or server may resolve to another path, are an
// error.
func pathSegments(path string) ([]string, error) {
	var segs []string
	for _, s := range strings.Split(path, "/") {
		switch s {
		case "":
			continue
		case ".", "..":
			return nil, fmt.Errorf("casebook is read-only: refusing GET %s with a dot segment", path)
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// secretRequest reports whether an API path is about Secrets and, if it
// names one, which: …/api/v1/secrets, …/api/v1/namespaces/NS/secrets[/NAME],
// and their /watch/ forms, after any prefix.
func secretRequest(segs []string) (name string, ok bool) {
	for i := 0; i+2 < len(segs); i++ {
		if segs[i] != "api" || segs[i+1] != "v1" {
			continue
		}
		if name, ok := coreSecret(segs[i+2:]); ok {
			return name, true
		}
	}
	return "", false
}

// coreSecret reads the part of a core API path after /api/v1/.
func coreSecret(rest []string) (name string, ok bool) {
	if rest[0] == "watch" {
		rest = rest[1:]
	}
	if len(rest) >= 3 && rest[0] == "namespaces" {
		rest = rest[2:]
	}
	if len(rest) == 0 || rest[0] != "secrets" {
		return "", false
	}
	if len(rest) > 1 {
		return rest[1], true
	}
	return "", true
}

// metadataOnly reports whether an Accept header asks for object metadata
// and nothing else.
func metadataOnly(accept string) bool {
	if accept == "" {
		return false
	}
	for _, alt := range strings.Split(accept, ",") {
		if !strings.Contains(alt, "as=PartialObjectMetadata") {
			return false
		}
	}
	return true
}

// HostPath returns the path part of a rest.Config Host: the prefix a proxy
// serves the API under ("/k8s/clusters/c-x"), or "".
func HostPath(host string) string {
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return ""
	}
	return u.Path
}

// metadataAccept keeps only the metadata alternatives of an Accept header:
// client-go's metadata client also offers plain JSON, which a server that
// cannot transform would answer with whole Secrets.
func metadataAccept(accept string) string {
	var keep []string
	for _, alt := range strings.Split(accept, ",") {
		if strings.Contains(alt, "as=PartialObjectMetadata") {
			keep = append(keep, strings.TrimSpace(alt))
		}
	}
	return strings.Join(keep, ",")
}
