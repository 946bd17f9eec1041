// Package cluster is the picture of a cluster that one diagnose run reads:
// built once from a casebook.Source, each kind listed, converted and sorted
// once however many detectors ask, with the indexes detectors look things up
// in (events of an object, pods of a Service, claim → volume → class, the
// K3s flags of a node) built once on first use.
//
// Detectors declare the kinds they read (Kinds); the run preloads exactly
// those, and the same list drives what collect writes and what the agent's
// RBAC allows.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
)

// SystemNamespace is where K3s runs its packaged components (Traefik,
// ServiceLB, the local-path provisioner): detectors read it even when the
// diagnosis is limited to another namespace.
const SystemNamespace = "kube-system"

// State is one run's picture of the cluster. Its methods may be called
// concurrently; the objects it returns are shared and must not be modified.
type State struct {
	ctx context.Context
	src casebook.Source

	mu    sync.Mutex
	lists map[listKey]*list
	// Listed records every (kind, namespace) read, for the test that
	// detectors read only what they declare.
	listed map[casebook.Kind]bool

	memoMu sync.Mutex
	memo   map[any]*lazy[any]

	events   lazy[*EventIndex]
	pods     lazy[*PodIndex]
	services lazy[*ServiceIndex]
	storage  lazy[*StorageIndex]
	nodes    lazy[*NodeIndex]

	logOpts LogOptions
	logs    lazy[*Logs]
	metrics lazy[*Metrics]
	prom    *Prometheus
}

type listKey struct {
	kind      casebook.Kind
	namespace string
}

type list struct {
	once  sync.Once
	objs  []runtime.Object
	err   error
	typed sync.Once
	tobjs any
	terr  error
}

// lazy is an index built once, on first use.
type lazy[T any] struct {
	once sync.Once
	v    T
}

func (l *lazy[T]) get(build func() T) T {
	l.once.Do(func() { l.v = build() })
	return l.v
}

// New returns an empty state over src. Lists run under ctx (the run's
// context), not under the deadline of the detector that asks first: one
// list serves every detector.
func New(ctx context.Context, src casebook.Source) *State {
	return &State{ctx: ctx, src: src, lists: map[listKey]*list{}, listed: map[casebook.Kind]bool{}}
}

// Load returns a state over src with kinds listed in every namespace the
// source covers, concurrency lists at a time. Kinds that cannot be listed
// are remembered as errors and returned to the detectors that read them.
// Patterns (Kind.IsPattern) are skipped: their kinds are only known once
// other objects are read.
func Load(ctx context.Context, src casebook.Source, kinds []casebook.Kind, concurrency int) *State {
	s := New(ctx, src)
	if concurrency <= 0 {
		concurrency = 4
	}
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for _, k := range kinds {
		if IsPattern(k) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			_, _ = s.Objects(k, casebook.AllNamespaces)
		}()
	}
	wg.Wait()
	return s
}

// IsPattern reports whether k names a family of kinds ("*.constraints.gatekeeper.sh")
// rather than one kind.
func IsPattern(k casebook.Kind) bool { return len(k) > 0 && k[0] == '*' }

func (s *State) entry(kind casebook.Kind, namespace string) *list {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := listKey{kind, namespace}
	e := s.lists[k]
	if e == nil {
		e = &list{}
		s.lists[k] = e
		s.listed[kind] = true
	}
	return e
}

// Objects returns kind in namespace as the source gives it, listed once.
func (s *State) Objects(kind casebook.Kind, namespace string) ([]runtime.Object, error) {
	e := s.entry(kind, namespace)
	e.once.Do(func() { e.objs, e.err = s.src.List(s.ctx, kind, namespace) })
	return e.objs, e.err
}

// Memo returns what build returns for key, built once per state however
// many detectors ask: work several detectors share, such as one pass of
// every signal over every message.
func (s *State) Memo(key any, build func() any) any {
	s.memoMu.Lock()
	if s.memo == nil {
		s.memo = map[any]*lazy[any]{}
	}
	l := s.memo[key]
	if l == nil {
		l = &lazy[any]{}
		s.memo[key] = l
	}
	s.memoMu.Unlock()
	return l.get(build)
}

// Listed returns the kinds read so far.
func (s *State) Listed() []casebook.Kind {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]casebook.Kind, 0, len(s.listed))
	for k := range s.listed {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// List returns kind in namespace as typed objects sorted by namespace and
// name, converted and sorted once: List[corev1.Pod](st, casebook.KindPod, "").
func List[T any, PT interface {
	*T
	runtime.Object
	metav1.Object
}](s *State, kind casebook.Kind, namespace string) ([]PT, error) {
	objs, err := s.Objects(kind, namespace)
	if err != nil {
		return nil, err
	}
	e := s.entry(kind, namespace)
	e.typed.Do(func() {
		out := make([]PT, 0, len(objs))
		for _, o := range objs {
			switch v := o.(type) {
			case PT:
				out = append(out, v)
			case *unstructured.Unstructured:
				t := PT(new(T))
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(v.Object, t); err != nil {
					e.terr = fmt.Errorf("read %s %s/%s: %w", kind, v.GetNamespace(), v.GetName(), err)
					return
				}
				out = append(out, t)
			default:
				e.terr = fmt.Errorf("read %s: unexpected object type %T", kind, o)
				return
			}
		}
		// Sources list in different orders (a live list by key, a snapshot
		// by file); sorted, every source gives detectors the same input.
		// The keys are built once: comparing through the objects' methods
		// costs more than the sort itself on 50,000 events.
		keyed := make([]keyedObject[PT], len(out))
		for i, o := range out {
			keyed[i] = keyedObject[PT]{key: o.GetNamespace() + "\x00" + o.GetName(), obj: o}
		}
		slices.SortStableFunc(keyed, func(a, b keyedObject[PT]) int { return strings.Compare(a.key, b.key) })
		for i := range keyed {
			out[i] = keyed[i].obj
		}
		e.tobjs = out
	})
	if e.terr != nil {
		return nil, e.terr
	}
	out, ok := e.tobjs.([]PT)
	if !ok {
		return nil, fmt.Errorf("read %s: listed before as %T", kind, e.tobjs)
	}
	return out, nil
}

type keyedObject[PT any] struct {
	key string
	obj PT
}

// Skippable reports whether err only means a kind could not be read
// (forbidden, or not served by the cluster): checks that need it are
// skipped, the others go on.
func Skippable(err error) bool {
	return errors.Is(err, casebook.ErrForbidden) || errors.Is(err, casebook.ErrNotServed)
}
