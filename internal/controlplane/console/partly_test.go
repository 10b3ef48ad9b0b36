package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
)

// conflictingStore is a real store whose writes, once armed, conflict
// after the first: as if another request kept changing what each read
// (the service retries, then answers OperationConflict).
type conflictingStore struct {
	store.Store
	armed  atomic.Bool
	writes atomic.Int32
}

func (s *conflictingStore) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	if s.armed.Load() && s.writes.Add(1) > 1 {
		return 0, fmt.Errorf("%w: injected", store.ErrConflict)
	}
	return s.Store.Update(ctx, fn)
}

// TestSecondCallFails: a change of two calls whose second fails (a
// group created, then its policy refused) is recorded as both calls, the
// second with its error, and its page says what was made: it said
// "Nothing was changed" of a group that was.
func TestSecondCallFails(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := &conflictingStore{Store: db}
	svc := service.New(st)
	ctx := context.Background()
	_, key, err := svc.NewTenant(ctx, "tenant")
	if err != nil {
		t.Fatal(err)
	}
	var events []trail.Event
	c, err := New(svc, Options{Observe: func(call *rpc.Call) { events = append(events, trail.EventOf(call, key.Account)) }})
	if err != nil {
		t.Fatal(err)
	}
	s := c.sessions.add(key.Account, key.ID, false)
	f := url.Values{"op": {"create-group"}, "name": {"made-here"}, "policy": {"drop"}, "step": {"apply"}, "csrf": {s.csrf}}
	req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
	w := httptest.NewRecorder()
	st.armed.Store(true)
	serveFollowing(c, w, req)
	st.armed.Store(false)

	l, err := svc.DescribeSecurityGroups(ctx, service.DescribeGroupsInput{Caller: service.Caller{Account: key.Account, Region: "cn-hangzhou"}, Page: allPage})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("%d groups (%v), want the one created", len(l.Items), err)
	}
	made := l.Items[0].Group.ID
	if len(events) != 2 {
		t.Fatalf("%d events, want 2: %+v", len(events), events)
	}
	if e := events[0]; e.EventName != "CreateSecurityGroup" || e.ErrorCode != "" || !strings.Contains(fmt.Sprint(e.Resources), made) {
		t.Errorf("first event %s code %q resources %+v; want CreateSecurityGroup of %s", e.EventName, e.ErrorCode, e.Resources, made)
	}
	if e := events[1]; e.EventName != "ModifySecurityGroupPolicy" || e.ErrorCode != "OperationConflict" || e.RequestParameters.Get("SecurityGroupId") != made {
		t.Errorf("second event %s code %q parameters %v; want ModifySecurityGroupPolicy of %s, OperationConflict", e.EventName, e.ErrorCode, e.RequestParameters, made)
	}
	page := w.Body.String()
	if w.Code != http.StatusConflict || strings.Contains(page, "Nothing was changed") || !strings.Contains(page, `id="partly"`) || !strings.Contains(page, made) {
		t.Errorf("%d: the page does not say that %s was made: %s", w.Code, made, page)
	}
}
