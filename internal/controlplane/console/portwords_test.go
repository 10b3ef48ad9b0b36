package console

import (
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestBadPortSameWords: the instance page's verify form and the map's
// filter refuse a bad port in the same words, the API's (model.PortWanted,
// through the analysis actions both ask): they worded it two ways.
func TestBadPortSameWords(t *testing.T) {
	_, c, key, _, inst := layoutWorld(t)
	c.budgets.page = time.Minute // the map waits for its graph
	// The error's code and message, tags left out.
	errRE := regexp.MustCompile(`(?s)class="ecs-code"[^>]*>(.*?)</p>`)
	tags := regexp.MustCompile(`<[^>]+>`)
	said := func(path string) string {
		t.Helper()
		_, body := get(t, c, key.Account, path)
		m := errRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("%s refuses nothing: %.2000s", path, body[strings.Index(body, "<main"):])
		}
		return strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(m[1], ""))), " ")
	}
	for _, port := range []string{"99999", "abc", "0", "022", "-1"} {
		t.Run(port, func(t *testing.T) {
			instance := said(Prefix + "r/cn-hangzhou/instances/" + inst + "?to=47.100.9.9&protocol=tcp&port=" + port)
			mapped := said(Prefix + "r/cn-hangzhou/map?protocol=tcp&port=" + port)
			if instance != mapped || !strings.Contains(mapped, model.PortWanted) {
				t.Errorf("port %q:\nthe instance page says %q\nthe map says           %q\nwant both to say %q", port, instance, mapped, model.PortWanted)
			}
		})
	}
}
