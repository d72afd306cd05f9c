package jira

import (
	"fmt"
	"strings"

	"github.com/sondehq/sonde/collector/helpdesk"
)

// node is one node of the Atlassian Document Format, the JSON document
// Jira Cloud's REST API v3 takes and gives for rich text (descriptions,
// comments). Its text nodes are plain text: nothing in them is markup, so
// an agent's strings need no escaping, only to be valid UTF-8 on one line.
type node struct {
	Type    string         `json:"type"`
	Version int            `json:"version,omitempty"`
	Attrs   map[string]any `json:"attrs,omitempty"`
	Content []node         `json:"content,omitempty"`
	Text    string         `json:"text,omitempty"`
	Marks   []mark         `json:"marks,omitempty"`
}

type mark struct {
	Type  string         `json:"type"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

func doc(blocks ...node) node { return node{Type: "doc", Version: 1, Content: blocks} }

// text is a text node of s on one line; ADF refuses empty text nodes,
// which block drops.
func text(s string, marks ...mark) node {
	return node{Type: "text", Text: oneLine(s), Marks: marks}
}

func oneLine(s string) string { return strings.Join(strings.Fields(strings.ToValidUTF8(s, "")), " ") }

// block is a node of kind holding inline, less its empty text nodes.
func block(kind string, attrs map[string]any, inline ...node) node {
	var keep []node
	for _, n := range inline {
		if n.Type != "text" || n.Text != "" {
			keep = append(keep, n)
		}
	}
	return node{Type: kind, Attrs: attrs, Content: keep}
}

func para(inline ...node) node { return block("paragraph", nil, inline...) }

var strong = mark{Type: "strong"}

// plainDoc turns plain text into paragraphs, one per block of lines, its
// lines kept apart by hard breaks.
func plainDoc(s string) node {
	var blocks []node
	for _, chunk := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		var inline []node
		for _, line := range strings.Split(chunk, "\n") {
			if t := text(line); t.Text != "" {
				if len(inline) > 0 {
					inline = append(inline, node{Type: "hardBreak"})
				}
				inline = append(inline, t)
			}
		}
		if len(inline) > 0 {
			blocks = append(blocks, para(inline...))
		}
	}
	if len(blocks) == 0 {
		blocks = append(blocks, para(text("Opened by Sonde.")))
	}
	return doc(blocks...)
}

// summaryDoc renders a findings summary as ADF: the headline as a
// heading, the findings as a bullet list with their fix and numbered
// steps, the link back to Sonde, and the marker in a paragraph of its own
// so that Has finds it whole.
func summaryDoc(s helpdesk.Summary) node {
	blocks := []node{block("heading", map[string]any{"level": 3}, text(s.Headline))}
	shown, more := s.Findings, 0
	if len(shown) > helpdesk.MaxFindings {
		shown, more = shown[:helpdesk.MaxFindings], len(shown)-helpdesk.MaxFindings
	}
	if len(shown) == 0 {
		blocks = append(blocks, para(text("No findings: the machine looked healthy.")))
	} else {
		list := node{Type: "bulletList"}
		for _, f := range shown {
			item := node{Type: "listItem", Content: []node{para(text(strings.ToUpper(f.Severity), strong), node{Type: "text", Text: " " + oneLine(f.Title)})}}
			if f.Fix != "" {
				item.Content = append(item.Content, para(text("Fix: "+f.Fix)))
			}
			if steps := stepList(f.Steps); steps != nil {
				item.Content = append(item.Content, *steps)
			}
			list.Content = append(list.Content, item)
		}
		blocks = append(blocks, list)
	}
	if more > 0 {
		blocks = append(blocks, para(text(fmt.Sprintf("… and %d more in the bundle.", more))))
	}
	if s.Link != "" {
		link := mark{Type: "link", Attrs: map[string]any{"href": s.Link}}
		blocks = append(blocks, para(text("Open "+s.Ref+" in Sonde", link)))
	}
	return doc(append(blocks, para(text(s.Marker)))...)
}

func stepList(steps []string) *node {
	list := node{Type: "orderedList"}
	for _, st := range steps {
		if t := text(st); t.Text != "" {
			list.Content = append(list.Content, node{Type: "listItem", Content: []node{para(t)}})
		}
	}
	if len(list.Content) == 0 {
		return nil
	}
	return &list
}

// plain is the text of an ADF document: its text nodes, with a line
// break after each block, so a marker in a paragraph of its own reads
// whole.
func plain(n node) string {
	var b strings.Builder
	var walk func(node)
	walk = func(n node) {
		b.WriteString(n.Text)
		for _, c := range n.Content {
			walk(c)
		}
		if len(n.Content) > 0 {
			b.WriteByte('\n')
		}
	}
	walk(n)
	return b.String()
}
