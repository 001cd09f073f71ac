package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"hmi/alarms"
	"hmi/points"
)

// TestAlarmOutOfService takes an active alarm out of service through the handler and back, and checks what the
// alarm list and the point page offer to whom: the list leaves the alarm out but shows it in its out-of-service
// section, and only an engineer gets the buttons.
func TestAlarmOutOfService(t *testing.T) {
	a, cache := newTestApp(t, Deps{})
	const aid = "limit:n.i:H"
	cache.Apply([]points.Update{{Point: 1, Value: 150}})
	waitAlarm := func(want alarms.State) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if al, _ := a.deps.Alarms.Get(aid); al.State == want {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("alarm %s is %v, want %v", aid, al.State, want)
			}
		}
	}
	waitAlarm(alarms.ActiveUnacked)

	engineer := &Identity{User: User{Name: "eng", Role: RoleEngineer}}
	operator := &Identity{User: User{Name: "op", Role: RoleOperator}}
	router := chi.NewRouter()
	router.Post("/api/v1/alarms/{id}/out-of-service", a.AlarmOutOfService)
	router.Post("/api/v1/alarms/{id}/in-service", a.AlarmInService)
	router.Get("/alarms", a.AlarmsList)
	router.Get("/points/{id}", a.PointDetail)
	do := func(id *Identity, method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		r = r.WithContext(WithIdentity(r.Context(), id))
		w := httptest.NewRecorder()
		router.ServeHTTP(w, r)
		return w
	}

	if w := do(engineer, "POST", "/api/v1/alarms/"+aid+"/out-of-service", `{"comment":"sensor replaced"}`); w.Code != 200 ||
		!strings.Contains(w.Body.String(), `"out_of_service":1`) || !strings.Contains(w.Body.String(), `"state":"out_of_service"`) {
		t.Fatalf("out of service: %d %s", w.Code, w.Body)
	}
	waitAlarm(alarms.OutOfService)
	if w := do(engineer, "POST", "/api/v1/alarms/"+aid+"/out-of-service", `{}`); w.Code != http.StatusConflict {
		t.Errorf("out of service twice: %d %s, want 409", w.Code, w.Body)
	}
	if w := do(engineer, "POST", "/api/v1/alarms/nope/out-of-service", `{}`); w.Code != http.StatusNotFound {
		t.Errorf("unknown alarm: %d %s, want 404", w.Code, w.Body)
	}

	list := do(engineer, "GET", "/alarms", "").Body.String()
	main, oos, _ := strings.Cut(list, `id="alarms-oos"`)
	if strings.Contains(main, `data-alarm="`+aid+`"`) {
		t.Error("the alarm list shows the alarm out of service among the alarms")
	}
	if !strings.Contains(oos, `data-alarm="`+aid+`"`) || !strings.Contains(oos, "data-in-service") || !strings.Contains(oos, "sensor replaced") {
		t.Errorf("the out-of-service section lacks the alarm, its comment or the button:\n%s", oos)
	}
	if !strings.Contains(main, "data-out-of-service") {
		t.Error("no out-of-service action for an engineer")
	}
	if l := do(operator, "GET", "/alarms", "").Body.String(); strings.Contains(l, "data-in-service") || strings.Contains(l, "data-out-of-service") {
		t.Error("an operator is offered the out-of-service actions")
	}
	point := do(engineer, "GET", "/points/n.i", "").Body.String()
	if _, panel, ok := strings.Cut(point, `id="point-alarms"`); !ok || !strings.Contains(panel, `data-alarm="`+aid+`"`) ||
		!strings.Contains(panel, "data-in-service") || !strings.Contains(panel, "out of service") {
		t.Errorf("the point page's alarms panel:\n%s", panel)
	}

	if w := do(engineer, "POST", "/api/v1/alarms/"+aid+"/in-service", ``); w.Code != 200 {
		t.Fatalf("in service: %d %s", w.Code, w.Body)
	}
	waitAlarm(alarms.ActiveUnacked) // evaluated afresh: the current is still above the limit
	if point := do(engineer, "GET", "/points/n.i", "").Body.String(); !strings.Contains(point, "data-out-of-service") {
		t.Error("the point page offers no out-of-service action for the alarm back in service")
	}
}
