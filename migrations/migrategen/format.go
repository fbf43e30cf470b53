package main

import (
	"fmt"
	"text/template"

	"ariga.io/atlas/sql/migrate"
)

// formatter writes golang-migrate files numbered 000001, 000002, ... rather
// than by timestamp: staged migrations generated in one second would
// otherwise share a version, and numbers read better in `migrate status`.
func formatter(version int) (migrate.Formatter, error) {
	v := fmt.Sprintf("%06d", version)
	funcs := template.FuncMap{
		"version": func() string { return v },
		"rev": func(cs []*migrate.Change) []*migrate.Change {
			out := make([]*migrate.Change, len(cs))
			for i, c := range cs {
				out[len(cs)-1-i] = c
			}
			return out
		},
	}
	parse := func(s string) *template.Template { return template.Must(template.New("").Funcs(funcs).Parse(s)) }
	return migrate.NewTemplateFormatter(
		parse("{{ version }}{{ with .Name }}_{{ . }}{{ end }}.up.sql"),
		parse(`{{ range .Changes }}{{ with .Comment }}-- {{ println . }}{{ end }}{{ printf "%s;\n" .Cmd }}{{ end }}`),
		parse("{{ version }}{{ with .Name }}_{{ . }}{{ end }}.down.sql"),
		parse(`{{ range $c := rev .Changes }}{{ with $stmts := .ReverseStmts }}{{ with $c.Comment }}-- reverse: {{ println . }}{{ end }}{{ range $stmts }}{{ printf "%s;\n" . }}{{ end }}{{ end }}{{ end }}`),
	)
}
