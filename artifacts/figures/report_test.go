package figures

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

const evil = "<script>alert(1)</script>"

func renderFixtureHTML(t *testing.T) (*Report, []byte) {
	t.Helper()
	r := builtFixture(t)
	r.Title = "Run <i>" + evil + "</i>"
	r.Config = append(r.Config, KV{Key: evil, Value: `" onerror="alert(2)`})
	out, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	return r, out
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func nodeText(n *html.Node) string {
	var b strings.Builder
	walk(n, func(m *html.Node) {
		if m.Type == html.TextNode {
			b.WriteString(m.Data)
		}
	})
	return b.String()
}

func TestHTMLIsOneSelfContainedPageWithTable1AndEmbeddedFigures(t *testing.T) {
	r, out := renderFixtureHTML(t)
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var imgs, table1Rows, links []*html.Node
	var table1 *html.Node
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		count[n.Data]++
		switch {
		case n.Data == "img":
			imgs = append(imgs, n)
		case n.Data == "table" && attr(n, "id") == "table1-table":
			table1 = n
		case n.Data == "link" || n.Data == "script" || n.Data == "iframe" || n.Data == "object":
			links = append(links, n)
		}
	})
	if count["html"] != 1 || count["head"] != 1 || count["body"] != 1 || count["title"] != 1 {
		t.Errorf("element counts html %d head %d body %d title %d, want 1 each", count["html"], count["head"], count["body"], count["title"])
	}
	if !bytes.HasPrefix(out, []byte("<!DOCTYPE html>")) || bytes.Count(out, []byte("<html")) != 1 {
		t.Error("page does not start with <!DOCTYPE html> or has more than one <html")
	}
	if len(links) != 0 {
		t.Errorf("page has %d link/script/iframe/object elements, want none (self-contained, nothing executable)", len(links))
	}

	// Table 1: one row per rule, ours and the paper's.
	if table1 == nil {
		t.Fatal("no table with id table1-table")
	}
	walk(table1, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" && attr(n, "data-rule") != "" {
			table1Rows = append(table1Rows, n)
		}
	})
	wantRules := []string{"bp", "fa_random", "fa_toeplitz", "usf_init", "usf_sn"}
	if len(table1Rows) != len(wantRules) {
		t.Fatalf("Table 1 has %d rule rows, want %d", len(table1Rows), len(wantRules))
	}
	for i, rule := range wantRules {
		if got := attr(table1Rows[i], "data-rule"); got != rule {
			t.Errorf("Table 1 row %d is %q, want %q", i, got, rule)
		}
	}
	// bp row: fixture seeds' best-val mean ± half from Table1, paper 75.92.
	row := Table1(r.Results)[0]
	bpText := nodeText(table1Rows[0])
	for _, want := range []string{"BP", pctCI(row.BestVal, row.BestValHalf), "75.92", "75.80", "45", "lr 1e-3, wd 1e-4"} {
		if !strings.Contains(bpText, want) {
			t.Errorf("Table 1 bp row %q lacks %q", bpText, want)
		}
	}
	if !strings.Contains(nodeText(table1Rows[1]), "not run") || !strings.Contains(nodeText(table1Rows[1]), "36.14") {
		t.Errorf("Table 1 fa_random row %q should say not run beside the paper's 36.14", nodeText(table1Rows[1]))
	}

	// Every figure embedded as a PNG data URL carrying exactly its bytes.
	if len(imgs) != len(r.Figures) {
		t.Fatalf("%d <img>, want %d", len(imgs), len(r.Figures))
	}
	const prefix = "data:image/png;base64,"
	for i, img := range imgs {
		src := attr(img, "src")
		if !strings.HasPrefix(src, prefix) {
			t.Errorf("img %d src starts %.40q, want %q", i, src, prefix)
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(src[len(prefix):])
		if err != nil {
			t.Errorf("img %d: base64: %v", i, err)
			continue
		}
		if !bytes.Equal(raw, r.Figures[i].PNG) {
			t.Errorf("img %d does not carry figure %q's bytes", i, r.Figures[i].Name)
		}
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
			t.Errorf("img %d: %v", i, err)
		}
		if attr(img, "alt") == "" {
			t.Errorf("img %d has no alt text", i)
		}
	}

	// Sections the brief asks for.
	for _, id := range []string{"table1", "figures", "cka", "efficiency", "config", "differences", "alignment"} {
		if !bytes.Contains(out, []byte(`<section id="`+id+`">`)) {
			t.Errorf("no section %q", id)
		}
	}
	for _, want := range []string{"Paper: uSF Init vs BP", ".99", "paper n = 10009", "1,000,000", "3.81 MiB (4,000,000 B)", "812", "61.0%", "46.0° → 41.0°"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestHTMLEscapesEveryStringFromOutside(t *testing.T) {
	_, out := renderFixtureHTML(t)
	if bytes.Contains(out, []byte("<script")) || bytes.Contains(out, []byte("<i>")) || bytes.Contains(out, []byte("<b>")) {
		t.Error("raw markup from configuration, title or differences reached the page")
	}
	if bytes.Contains(out, []byte(`" onerror="`)) {
		t.Error("a quote from configuration broke out of its context")
	}
	// The evil value occurs in the title (twice: <title> and <h1>), as a
	// config key and as the config value "out": 4 escaped copies.
	if got := bytes.Count(out, []byte("&lt;script&gt;alert(1)&lt;/script&gt;")); got != 4 {
		t.Errorf("escaped script appears %d times, want 4", got)
	}
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	// Parsed back, the config table holds the original strings as text.
	var cfg *html.Node
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && attr(n, "id") == "config-table" {
			cfg = n
		}
	})
	if cfg == nil {
		t.Fatal("no config table")
	}
	txt := nodeText(cfg)
	for _, want := range []string{evil, `" onerror="alert(2)`, "smoke", "0,1"} {
		if !strings.Contains(txt, want) {
			t.Errorf("config table text lacks %q", want)
		}
	}
}

func TestMarkdownHasTheSameTablesAndEscapes(t *testing.T) {
	r := builtFixture(t)
	r.Config = append(r.Config, KV{"pipe|key", "a|b"})
	md, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	for _, f := range r.Figures {
		if !strings.Contains(s, "](figures/"+f.Name+".png)") {
			t.Errorf("markdown does not reference figures/%s.png", f.Name)
		}
	}
	for _, want := range []string{
		"| rule | hyper-parameters | seeds |", "| BP | lr 1e-3, wd 1e-4",
		"| FA (Random) | ", "not run", "36.14",
		"&lt;script&gt;alert(1)&lt;/script&gt;", `pipe\|key`, `a\|b`,
		"## Efficiency", "| uSF Init | 1,000,000 |", "## Configuration", "## Where this run differs from the paper",
		"**Paper: uSF Init vs BP — all images (n = 15000)**",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(s, "<script") || strings.Contains(s, "<b>") {
		t.Error("raw HTML reached the markdown")
	}
	// Every table row has the same number of cells as its header.
	var cols int
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") - 1
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("row %q has %d cells, header %d", line, n, cols)
		}
	}
}

// findChromium returns Debian's chromium, or "" when absent.
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// imgCheck is appended to the page only in this test: after the load event
// it writes, into a <pre id="imgcheck">, one line per image ("ok" when the
// browser decoded it, with its natural size) so --dump-dom shows the verdict.
const imgCheck = `<pre id="imgcheck">pending</pre>
<script>
window.addEventListener("load", function () {
  var out = [];
  var imgs = document.images;
  for (var i = 0; i < imgs.length; i++) {
    var im = imgs[i];
    out.push((im.complete && im.naturalWidth > 0 ? "ok " : "FAIL ") + im.naturalWidth + "x" + im.naturalHeight);
  }
  document.getElementById("imgcheck").textContent = "images " + imgs.length + "\n" + out.join("\n");
});
</script>
</body>`

func TestHTMLRendersInHeadlessChromiumWithEveryImageLoaded(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		t.Skip("chromium not installed (apt-get install chromium); skipping the browser check")
	}
	if testing.Short() {
		t.Skip("browser check skipped in -short mode")
	}
	r, out := renderFixtureHTML(t)
	page := strings.Replace(string(out), "</body>", imgCheck, 1)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--virtual-time-budget=10000", "--dump-dom", "file://"+file)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\nstderr: %s", err, stderr.String())
	}
	dom := stdout.String()
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	var verdict string
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode && attr(n, "id") == "imgcheck" {
			verdict = nodeText(n)
		}
	})
	lines := strings.Split(strings.TrimSpace(verdict), "\n")
	if len(lines) != len(r.Figures)+1 || lines[0] != "images "+strconv.Itoa(len(r.Figures)) {
		t.Fatalf("image check %q, want %d images", verdict, len(r.Figures))
	}
	for i, l := range lines[1:] {
		img, _ := png.DecodeConfig(bytes.NewReader(r.Figures[i].PNG))
		if want := "ok " + strconv.Itoa(img.Width) + "x" + strconv.Itoa(img.Height); l != want {
			t.Errorf("figure %q in the browser: %q, want %q", r.Figures[i].Name, l, want)
		}
	}
	// The page's own content survived: escaped title text, no alert script
	// besides ours.
	if n := strings.Count(dom, "&lt;script&gt;alert(1)&lt;/script&gt;"); n != 4 {
		t.Errorf("escaped alert(1) occurs %d times in the rendered DOM, want 4 (as text)", n)
	}
}

// TestTable1ShowsTheLeadingTestRecordsColumnOnlyWhenMeasured checks the
// column of accuracy on the leading test records: headed with the records'
// range and filled per rule when results.json has test_head, absent
// otherwise, in both the markdown and the HTML.
func TestTable1ShowsTheLeadingTestRecordsColumnOnlyWhenMeasured(t *testing.T) {
	r := builtFixture(t)
	const header = "test, records 0–999 (ours)"
	for _, head := range []int{0, 1000} {
		r.Results.TestHead = head
		for rule, rr := range r.Results.Rules {
			for i := range rr.Seeds {
				rr.Seeds[i].TestHeadAcc = nil
				if head > 0 {
					rr.Seeds[i].TestHeadAcc = ptr(0.5 + 0.01*float64(i))
				}
			}
			r.Results.Rules[rule] = rr
		}
		md, err := Markdown(r)
		if err != nil {
			t.Fatal(err)
		}
		html, err := HTML(r)
		if err != nil {
			t.Fatal(err)
		}
		for name, doc := range map[string]string{"markdown": string(md), "html": string(html)} {
			if got := strings.Contains(doc, header); got != (head > 0) {
				t.Errorf("test_head %d: %s has the column %q: %v", head, name, header, got)
			}
		}
		if head > 0 && !strings.Contains(string(md), "| 50.00 |") && !strings.Contains(string(md), "| 50.00 ±") {
			t.Errorf("markdown Table 1 lacks the head accuracy 50.00:\n%s", md)
		}
	}
}
