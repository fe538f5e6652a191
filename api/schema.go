package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/voxplatform/vox/runtimeapi"
)

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

// enums lists, per struct type and JSON field, the values a string field may
// take, from the lists its validation uses: the document says them as
// "enum", and clients (the Console's choices) are generated from it.
var enums = map[reflect.Type]map[string][]string{
	reflect.TypeOf(runtimeapi.AgentProviders{}): {
		"stt":   runtimeapi.STTProviders,
		"tts":   runtimeapi.TTSProviders,
		"brain": runtimeapi.Brains,
	},
}

// schemaOf returns the JSON schema (OpenAPI 3 flavour) of what
// encoding/json makes of v's type: the same field names, embedded structs
// flattened, "-" fields left out.
func schemaOf(v any) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	return schema(reflect.TypeOf(v), 0)
}

func schema(t reflect.Type, depth int) map[string]any {
	if depth > 8 {
		return map[string]any{}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schema(t.Elem(), depth+1)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schema(t.Elem(), depth+1)}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		addFields(t, props, &required, depth)
		s := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}

// addFields adds the JSON fields of struct t, flattening embedded structs
// as encoding/json does. Non-pointer fields without omitempty or omitzero
// are required.
func addFields(t reflect.Type, props map[string]any, required *[]string, depth int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, props, required, depth)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schema(f.Type, depth+1)
		if values, ok := enums[t][name]; ok {
			props[name].(map[string]any)["enum"] = values
		}
		if f.Type.Kind() != reflect.Pointer && !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}
