package deploy

import (
	"encoding/json"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// exportedMetrics are the series the worker exports on /metrics (OpenTelemetry instruments
// through the Prometheus exporter: counters get _total, seconds histograms _seconds): the only
// names alerts and the dashboard may use.
var exportedMetrics = []string{
	"offpush_events_consumed_total",
	"offpush_recipients_total",
	"offpush_pushes_total", // outcome="sent|skipped|token_removed|dead_letter", reason
	"offpush_apns_retries_total",
	"offpush_dlq_records_total", // reason
	"offpush_infra_errors_total",
	"offpush_apns_in_flight",
	"offpush_apns_request_duration_seconds", // histogram; status = HTTP status or "error"
	"offpush_kafka_consumer_lag",            // topic, partition
	"offpush_apns_certificate_expiry_days",  // busi_id
	"offpush_api_requests_total",            // route, code
	"offpush_api_request_duration_seconds",  // histogram
	"offpush_revokes_total",                 // result="replaced|prevented"
	"offpush_voip_pushes_total",             // outcome="sent|token_removed|dead_letter"
}

// histogramSeries are the series a Prometheus histogram adds to its name.
var histogramSeries = []string{"_bucket", "_count", "_sum"}

var metricName = regexp.MustCompile(`offpush_[a-z_]+`)

// metricsIn returns the offpush metric names in text, a histogram's series under the
// histogram's name, and the names that are not exported.
func metricsIn(text string) (used, unknown []string) {
	for _, name := range metricName.FindAllString(text, -1) {
		base := name
		for _, s := range histogramSeries {
			if b, ok := strings.CutSuffix(name, s); ok && strings.HasSuffix(b, "_seconds") {
				base = b
			}
		}
		if slices.Contains(exportedMetrics, base) {
			used = append(used, base)
		} else {
			unknown = append(unknown, name)
		}
	}
	return used, unknown
}

// alertRule is one rule of alerts.yml.
type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func readAlerts(t *testing.T) []alertRule {
	t.Helper()
	var file struct {
		Groups []struct {
			Name  string      `yaml:"name"`
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, filepath.Join(root, alertsPath), &file)
	var rules []alertRule
	for _, g := range file.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("%s: group %q: want a name and rules", alertsPath, g.Name)
		}
		rules = append(rules, g.Rules...)
	}
	return rules
}

// TestAlertRules checks every rule is complete enough to page someone with: an expression, a
// duration, a severity and the texts on-call reads.
func TestAlertRules(t *testing.T) {
	rules := readAlerts(t)
	seen := map[string]bool{}
	for _, r := range rules {
		if r.Alert == "" || seen[r.Alert] {
			t.Errorf("%s: alert name %q empty or repeated", alertsPath, r.Alert)
		}
		seen[r.Alert] = true
		if strings.TrimSpace(r.Expr) == "" || !balanced(r.Expr) {
			t.Errorf("alert %s: expr %q empty or with unbalanced brackets", r.Alert, r.Expr)
		}
		if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
			t.Errorf("alert %s: for %q, want a duration", r.Alert, r.For)
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("alert %s: labels.severity %q, want critical or warning", r.Alert, s)
		}
		for _, a := range []string{"summary", "description", "runbook"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("alert %s: no annotations.%s", r.Alert, a)
			}
		}
	}
	// What must be alerted on, as text each expression must contain.
	for _, want := range []string{
		`up{job="offpush"}`,
		"offpush_dlq_records_total",
		"offpush_kafka_consumer_lag",
		`offpush_apns_request_duration_seconds_count{status=`,
		"offpush_apns_certificate_expiry_days) < 30",
		"offpush_apns_certificate_expiry_days) < 7",
		"offpush_infra_errors_total",
		`offpush_voip_pushes_total{outcome="dead_letter"}`,
	} {
		if !slices.ContainsFunc(rules, func(r alertRule) bool { return strings.Contains(r.Expr, want) }) {
			t.Errorf("%s: no rule on %s", alertsPath, want)
		}
	}
}

// TestAlertsScrapeJob checks the job the alerts select on is the one Prometheus scrapes, at
// the worker's ops address, and the rule file is loaded.
func TestAlertsScrapeJob(t *testing.T) {
	var prom struct {
		RuleFiles     []string       `yaml:"rule_files"`
		ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
	}
	readYAML(t, filepath.Join(root, prometheusPath), &prom)
	if !slices.Contains(prom.RuleFiles, path.Base(alertsPath)) {
		t.Errorf("%s: rule_files %q does not load %s", prometheusPath, prom.RuleFiles, path.Base(alertsPath))
	}
	c := readCompose(t)
	cfg := composeConfig(t, c)
	want := "offpush:" + strings.TrimPrefix(cfg.Ops.Addr, ":")
	i := slices.IndexFunc(prom.ScrapeConfigs, func(s scrapeConfig) bool { return s.JobName == "offpush" })
	if i < 0 || len(prom.ScrapeConfigs[i].StaticConfigs) == 0 || !slices.Contains(prom.ScrapeConfigs[i].StaticConfigs[0].Targets, want) {
		t.Errorf("%s: no job offpush scraping %s (the compose ops.addr)", prometheusPath, want)
	}
	for _, r := range readAlerts(t) {
		if strings.Contains(r.Expr, "job=") && !strings.Contains(r.Expr, `job="offpush"`) {
			t.Errorf("alert %s selects another job than offpush: %s", r.Alert, r.Expr)
		}
	}
	// The compose Prometheus reads the rules from the directory mounted at its config's dir.
	s := c.service(t, "prometheus")
	if src, _, ok := mountSource(s, "/etc/prometheus/prometheus.yml"); !ok || path.Clean(src) != path.Dir(prometheusPath) {
		t.Errorf("service prometheus: /etc/prometheus is not mounted from ./%s", path.Dir(prometheusPath))
	}
}

type scrapeConfig struct {
	JobName       string `yaml:"job_name"`
	StaticConfigs []struct {
		Targets []string `yaml:"targets"`
	} `yaml:"static_configs"`
}

// dashboard is the part of dashboard.json the tests read.
type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name    string `json:"name"`
			Type    string `json:"type"`
			Current struct {
				Value string `json:"value"`
			} `json:"current"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(readFile(t, filepath.Join(root, dashboardPath)), &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return d
}

// TestMetricNames checks alerts and dashboard use only exported metrics (a misspelt name is
// an alert that never fires, a panel that stays empty), and the dashboard shows all of them.
func TestMetricNames(t *testing.T) {
	shown := map[string]bool{}
	for _, f := range []string{alertsPath, dashboardPath} {
		used, unknown := metricsIn(string(readFile(t, filepath.Join(root, f))))
		for _, u := range unknown {
			t.Errorf("%s: %s is not a metric offpush exports (%v)", f, u, exportedMetrics)
		}
		if f == dashboardPath {
			for _, u := range used {
				shown[u] = true
			}
		}
	}
	for _, m := range exportedMetrics {
		if !shown[m] {
			t.Errorf("%s: no panel shows %s", dashboardPath, m)
		}
	}
	if _, unknown := metricsIn("offpush_pushes_sent_total offpush_apns_in_flight_count"); len(unknown) != 2 {
		t.Errorf("metricsIn accepts unexported names: %q", unknown)
	}
}

// TestDashboard checks the dashboard is one Grafana imports and renders: unique panel ids, a
// datasource and a query on every panel, panels inside the 24-column grid, and the datasource
// the compose Grafana provisions.
func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 36 {
		t.Errorf("%s: title %q, uid %q, schemaVersion %d: want a title, a uid and schemaVersion ≥ 36", dashboardPath, d.Title, d.UID, d.SchemaVersion)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d repeated", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || len(p.Targets) == 0 {
			t.Errorf("panel %q: want a datasource and targets", p.Title)
		}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" || !balanced(q.Expr) {
				t.Errorf("panel %q: query %q empty or with unbalanced brackets", p.Title, q.Expr)
			}
		}
	}
	quantiles := map[string]bool{}
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			for _, qu := range []string{"0.5", "0.99"} {
				if strings.Contains(q.Expr, "histogram_quantile("+qu+", sum by (le) (rate(offpush_apns_request_duration_seconds_bucket") {
					quantiles[qu] = true
				}
			}
		}
	}
	if len(quantiles) != 2 {
		t.Errorf("%s: want APNs latency p50 and p99 from the histogram, have %v", dashboardPath, slices.Collect(maps.Keys(quantiles)))
	}
	checkGrafanaProvisioning(t, d)
}

// checkGrafanaProvisioning checks the compose Grafana loads the dashboard from where it is
// mounted, with a datasource whose uid is the dashboard's default.
func checkGrafanaProvisioning(t *testing.T, d dashboard) {
	t.Helper()
	var ds struct {
		Datasources []datasource `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(root, "deploy/grafana/provisioning/datasources/prometheus.yml"), &ds)
	var dv string
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			dv = v.Current.Value
		}
	}
	if dv == "" || !slices.Contains(ds.Datasources, datasource{UID: dv, Type: "prometheus"}) {
		t.Errorf("dashboard datasource variable defaults to %q, not the provisioned Prometheus", dv)
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(root, "deploy/grafana/provisioning/dashboards/offpush.yml"), &prov)
	s := readCompose(t).service(t, "grafana")
	for _, p := range prov.Providers {
		if src, rel, ok := mountSource(s, p.Options.Path+"/offpush.json"); !ok || path.Join(src, rel) != dashboardPath {
			t.Errorf("service grafana: %s does not hold ./%s", p.Options.Path, dashboardPath)
		}
	}
}

type datasource struct {
	UID  string `yaml:"uid"`
	Type string `yaml:"type"`
}

// balanced reports whether the brackets of a PromQL expression pair up, a cheap guard
// against the commonest edit mistake (no PromQL parser is a dependency of this module).
func balanced(expr string) bool {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inString := false
	for _, r := range expr {
		switch {
		case r == '"':
			inString = !inString
		case inString:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !inString
}

// TestDockerfile checks the image runs the binary as a non-root user from distroless, with
// the config path and ports the compose file and the manifests use.
func TestDockerfile(t *testing.T) {
	text := string(readFile(t, filepath.Join(root, "Dockerfile")))
	froms := regexp.MustCompile(`(?m)^FROM\s+(?:--\S+\s+)?(\S+)`).FindAllStringSubmatch(text, -1)
	if len(froms) < 2 || !strings.HasPrefix(froms[len(froms)-1][1], "gcr.io/distroless/static") || !strings.HasSuffix(froms[len(froms)-1][1], ":nonroot") {
		t.Errorf("Dockerfile: want a multi-stage build ending FROM gcr.io/distroless/static…:nonroot, have %q", froms)
	}
	cfg := composeConfig(t, readCompose(t))
	for _, want := range []string{
		`ENTRYPOINT ["/offpush"]`,
		`CMD ["run", "--config", "/etc/offpush/config.yaml"]`,
		"CGO_ENABLED=0",
		"EXPOSE " + strings.TrimPrefix(cfg.API.Addr, ":") + " " + strings.TrimPrefix(cfg.Ops.Addr, ":"),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile: no %s", want)
		}
	}
	_, c := readManifests(t).worker(t)
	if got := configPathArg(t, c); got != "/etc/offpush/config.yaml" {
		t.Errorf("Deployment --config %s, the image's default is /etc/offpush/config.yaml", got)
	}
}

// pipelineCounter finds the counters pipeline/metrics.go creates: c("offpush.name", …) for a
// synchronous counter, s("offpush.name", …) for an observable sum.
var pipelineCounter = regexp.MustCompile(`\b[cs]\("(offpush\.[a-z_.]+)"`)

// TestExportedMetricsMatchWorker checks exportedMetrics lists every counter the pipeline
// creates, under its Prometheus name (dots to underscores, _total): a counter added to the
// worker is one the dashboard must show.
func TestExportedMetricsMatchWorker(t *testing.T) {
	src := string(readFile(t, filepath.Join(root, "pipeline/metrics.go")))
	found := pipelineCounter.FindAllStringSubmatch(src, -1)
	if len(found) < 8 {
		t.Fatalf("pipeline/metrics.go: found %d counters, want the 8 or more it creates: have the c(…) and s(…) helpers changed?", len(found))
	}
	for _, m := range found {
		name := strings.ReplaceAll(m[1], ".", "_") + "_total"
		if !slices.Contains(exportedMetrics, name) {
			t.Errorf("pipeline/metrics.go creates %s (exported as %s), which exportedMetrics does not list", m[1], name)
		}
	}
}

// TestRecallAndVoIPMonitoring checks the dashboard shows recalls by result, the originals a
// recall prevented, and VoIP pushes by outcome, and that a VoIP dead letter (a call that
// could not ring) pages within 10 minutes.
func TestRecallAndVoIPMonitoring(t *testing.T) {
	d := readDashboard(t)
	exprs := map[string]string{} // query → panel title
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			exprs[strings.Join(strings.Fields(q.Expr), " ")] = p.Title
		}
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`sum by \(result\) \(rate\(offpush_revokes_total\[`),
		regexp.MustCompile(`rate\(offpush_pushes_total\{[^}]*reason="revoked"[^}]*\}\[`),
		regexp.MustCompile(`sum by \(outcome\) \(rate\(offpush_voip_pushes_total\[`),
	} {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(exprs)), want.MatchString) {
			t.Errorf("%s: no panel queries %s", dashboardPath, want)
		}
	}
	rules := readAlerts(t)
	i := slices.IndexFunc(rules, func(r alertRule) bool {
		return strings.Contains(r.Expr, `rate(offpush_voip_pushes_total{outcome="dead_letter"}[`)
	})
	if i < 0 {
		t.Fatalf("%s: no rule on the rate of offpush_voip_pushes_total{outcome=\"dead_letter\"}", alertsPath)
	}
	r := rules[i]
	if !strings.HasSuffix(strings.TrimSpace(r.Expr), "> 0") {
		t.Errorf("alert %s: expr %q, want it to fire on any VoIP dead letter (> 0)", r.Alert, r.Expr)
	}
	if d, err := time.ParseDuration(r.For); err != nil || d > 10*time.Minute {
		t.Errorf("alert %s: for %q, want at most 10m", r.Alert, r.For)
	}
}
