package timeline

import (
	"html/template"
	"io"
	"strings"
)

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{margin:16px;font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;background:#fff}
header{display:flex;align-items:center;gap:16px;flex-wrap:wrap;max-width:1100px}
h1{font-size:20px;margin:0}
.sub{color:#444;font-size:14px;margin:6px 0 10px;max-width:1100px}
.verdict{font-weight:700;font-size:16px;padding:2px 10px;border-radius:4px;border:2px solid}
.pass{background:#e3f4ec;color:#00563f;border-color:#009E73}
.fail{background:#fbe4d6;color:#8a3200;border-color:#D55E00}
.other{background:#f1f1f1;color:#333;border-color:#777}
svg{display:block;max-width:none}
pre.notes{font:13px/1.45 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;white-space:pre-wrap;max-width:1100px;margin:12px 0 0;padding:8px 12px;background:#f7f7f7;border-left:3px solid #bbb}
</style>
</head>
<body>
<header><h1>{{.Title}}</h1>{{if .Verdict}}<span class="verdict {{.VerdictClass}}">{{.VerdictIcon}} {{.Verdict}}</span>{{end}}</header>
{{if .Subtitle}}<p class="sub">{{.Subtitle}}</p>{{end}}
{{.SVG}}
{{if .Notes}}<pre class="notes">{{range .Notes}}{{.}}
{{end}}</pre>{{end}}
</body>
</html>
`))

type pageData struct {
	Title, Subtitle       string
	Verdict, VerdictClass string
	VerdictIcon           string
	SVG                   template.HTML
	Notes                 []string
}

func renderHTML(w io.Writer, t Timeline) error {
	if err := t.Validate(); err != nil {
		return err
	}
	svg, extra := drawSVG(t)
	d := pageData{
		Title:    t.Title,
		Subtitle: t.Subtitle,
		Verdict:  strings.TrimSpace(t.Verdict),
		// drawSVG escapes every piece of text it writes.
		SVG:   template.HTML(svg),
		Notes: append(append([]string(nil), t.Notes...), extra...),
	}
	if d.Title == "" {
		d.Title = "Drill timeline"
	}
	d.VerdictClass, d.VerdictIcon = verdictStyle(d.Verdict)
	return page.Execute(w, d)
}

// verdictStyle picks the badge class and a symbol (so that the verdict
// does not rest on colour alone) from the verdict's first word.
func verdictStyle(v string) (class, icon string) {
	word := strings.ToUpper(strings.TrimLeft(v, " \t"))
	switch {
	case strings.HasPrefix(word, "PASS"), strings.HasPrefix(word, "OK"):
		return "pass", "✓"
	case strings.HasPrefix(word, "FAIL"), strings.HasPrefix(word, "ERROR"):
		return "fail", "✗"
	default:
		return "other", "•"
	}
}
