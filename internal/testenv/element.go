package testenv

import (
	"encoding/xml"

	"biboumi/internal/servers"
)

// Element is a generic decoded XML element, for assertions on stanzas.
type Element = servers.Element

// ParseElement decodes one XML element from a string (handy for golden
// comparisons in tests).
func ParseElement(s string) (*Element, error) { return servers.ParseElement(s) }

func decodeElement(d *xml.Decoder, start xml.StartElement) (*Element, error) {
	return servers.DecodeElement(d, start)
}
