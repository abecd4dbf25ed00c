// The Go text/template subset behind every --format. Expected strings marked "docker 20.10" were printed by
// /usr/bin/docker (20.10, built with go1.19.8) for `docker images test --format '<template>'` on a private
// dockerd, over an image row test:1 of ID 650ca6c06143.
import t from 'tap';
import {
  asFormatterContext,
  asGoMap,
  asStruct,
  executeTemplate,
  GoFloat,
  GoNil,
  GO_STRINGER,
  parseTemplate,
  renderTemplate,
  TemplateError,
} from '../../cli/go-template.js';
import { StrataError } from '../../native/errors.js';

/** A row like docker's imageContext (every field a string, as docker's methods return them). */
function imageRow() {
  return asFormatterContext(
    {
      ID: '650ca6c06143',
      Repository: 'test',
      Tag: '1',
      Digest: '<none>',
      CreatedSince: '10 minutes ago',
      CreatedAt: '2026-12-01 23:59:09 +0000 UTC',
      Size: '3B',
      VirtualSize: '3B',
      SharedSize: 'N/A',
      UniqueSize: 'N/A',
      Containers: 'N/A',
    },
    '*formatter.imageContext',
  );
}

const run = (text: string, data: unknown = imageRow()) => renderTemplate(text, data);

function errorOf(text: string, data: unknown = imageRow()): string {
  try {
    run(text, data);
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
  return '(no error)';
}

t.test('fields, dot, variables and literals', async (t) => {
  t.equal(run('{{.ID}} {{.Repository}}:{{.Tag}}'), '650ca6c06143 test:1');
  t.equal(run('{{$.ID}}'), '650ca6c06143');
  t.equal(run('{{.a.b.c}}', { a: { b: { c: 'deep' } } }), 'deep');
  t.equal(run('{{.}}', 'plain'), 'plain');
  // docker 20.10
  t.equal(run('{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}{{if true}}{{$x = 3}}{{$y := 4}}{{end}}{{$x}}'), '123');
  t.equal(run(`{{'a'}}|{{'\\t'}}|{{printf "%c" 'é'}}|{{0x1F}}|{{1_000}}|{{0o17}}|{{017}}|{{1e3}}|{{.5}}|{{-0.5}}`), '97|9|é|31|1000|15|15|1000|0.5|-0.5');
  t.equal(run('{{"\\x41\\u00e9\\101"}}|{{`raw\\n`}}'), 'AéA|raw\\n');
  t.equal(run('{{true}} {{false}}'), 'true false');
  t.equal(run('{{(.ID)}}|{{(split "a.b" ".")}}'), '650ca6c06143|[a b]');
  t.equal(run('{{$v := .Labels}}{{$v.x}}', { Labels: { x: 'y' } }), 'y');
  t.equal(run('{{.ID | }}'), '650ca6c06143', 'docker 20.10: an empty stage after | is allowed');
});

t.test('trim markers and comments', async (t) => {
  // docker 20.10
  t.equal(run('a  {{- "b" -}}  c {{- /* comment */ -}} d'), 'abcd');
  t.equal(run('{{- 3 -}} {{-3}} {{ -3 }}'), '3-3 -3');
  t.equal(run('x\n\t{{- .ID}}\n'), 'x650ca6c06143\n');
  t.equal(run('{{/* only a comment */}}ok'), 'ok');
  t.equal(run('a{{ .Tag -}}\n\n  b'), 'a1b');
});

t.test('pipelines, function calls and methods', async (t) => {
  // docker 20.10
  t.equal(run('{{"a" | printf "%s-%s" "b"}}|{{.ID | printf "%.3s"}}|{{.ID | len | printf "%d"}}'), 'b-a|650|12');
  t.equal(run('{{if (eq 1 1) | not}}y{{else}}n{{end}}'), 'n');
  t.equal(run('{{.ID | upper | printf "%q"}}'), '"650CA6C06143"');
  const row = asFormatterContext({ Names: 'web', Label: (k: string) => ({ a: 'b' } as Record<string, string>)[k] ?? '' }, '*formatter.ContainerContext');
  t.equal(run('{{.Names}} {{.Label "a"}}|{{.Label "nope"}}', row), 'web b|');
  t.equal(run('{{"a" | .Label}}', row), 'b', 'a method takes the pipeline value as its last argument');
  t.equal(errorOf('{{.Label}}', row), 'template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 0');
  const counter = { n: 0, Next() { return ++this.n; } };
  t.equal(run('{{.Next}} {{.Next}}', asStruct(counter, '*x.Counter')), '1 2', 'a zero-argument method is called on each use');
});

t.test('if, else if, else, with, range, break and continue', async (t) => {
  // docker 20.10
  t.equal(run('{{with .ID}}<{{.}}>{{end}}|{{with ""}}x{{else}}empty{{end}}|{{if 0}}a{{else if 1}}b{{else}}c{{end}}'), '<650ca6c06143>|empty|b');
  t.equal(run('{{range $i, $e := split "a,b,c" ","}}{{$i}}={{$e}};{{end}}|{{range split "" "x"}}[{{.}}]{{else}}none{{end}}'), '0=a;1=b;2=c;|[]');
  t.equal(
    run('{{range $e := split "x,y" ","}}{{$e}}{{end}}|{{range split "a,b,c" ","}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}|{{range split "a,b,c" ","}}{{if eq . "b"}}{{continue}}{{end}}{{.}}{{end}}'),
    'xy|a|ac',
  );
  t.equal(run('{{range .}}{{.}},{{end}}', { b: 2, a: 1, c: 3 }), '1,2,3,', 'a map ranges in sorted key order');
  t.equal(run('{{range $k, $v := .}}{{$k}}={{$v}} {{end}}', { b: 2, a: 1 }), 'a=1 b=2 ');
  t.equal(run('{{range .X}}x{{else}}empty{{end}}', { X: [] }), 'empty');
  t.equal(run('{{range .X}}x{{else}}nil{{end}}', { X: null }), 'nil', 'ranging over nil is no error');
  t.equal(run('{{range .X}}{{$.N}}{{.}}{{end}}', { X: [1, 2], N: 'n' }), 'n1n2', '$ stays the data inside range');
  t.equal(run('{{if and .A .B}}both{{else if or .A .B}}one{{else}}none{{end}}', { A: 1, B: '' }), 'one');
  t.equal(run('{{with $x := .A}}{{$x}}{{.}}{{end}}', { A: 'v' }), 'vv');
  t.equal(run('{{range $i, $e := .}}{{if $i}},{{end}}{{$e}}{{end}}', ['a', 'b', 'c']), 'a,b,c');
});

t.test('define, template and block', async (t) => {
  const data = { A: 'a', L: ['x', 'y'] };
  t.equal(run('{{define "x"}}[{{.}}]{{end}}{{template "x" .A}}{{range .L}}{{template "x" .}}{{end}}', data), '[a][x][y]');
  t.equal(run('{{block "b" .A}}<{{.}}>{{end}}|{{template "b" "z"}}', data), '<a>|<z>');
  t.equal(run('{{template "x"}}{{define "x"}}{{$}}{{end}}', data), '<nil>', 'without a pipeline, dot and $ are nil');
  t.equal(errorOf('{{template "nope"}}', data), 'template: :1:11: executing "" at <{{template "nope"}}>: template "nope" not defined');
  t.equal(errorOf('{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}', data), 'template: :1:25: executing "" at <{{template "r" .}}>: exceeded maximum template depth (1000)');
  t.equal(errorOf('{{if 1}}{{define "x"}}{{end}}{{end}}', data), 'template: :1: unexpected <define> in command');
  t.equal(errorOf('{{define "x"}}{{else}}{{end}}', data), 'template: :1: unexpected {{else}} in define clause');
  t.equal(errorOf('{{template x}}', data), 'template: :1: unexpected "x" in template clause');
  t.equal(errorOf('{{range .L}}{{define "x"}}{{break}}{{end}}{{end}}', data), 'template: :1: unexpected <define> in command');
});

t.test("Go's truth", async (t) => {
  const truthy = (v: unknown) => run('{{if .}}T{{else}}F{{end}}', v);
  t.equal(truthy(0), 'F');
  t.equal(truthy(1), 'T');
  t.equal(truthy(''), 'F');
  t.equal(truthy('0'), 'T');
  t.equal(truthy([]), 'F');
  t.equal(truthy([0]), 'T');
  t.equal(truthy({}), 'F', 'an empty map is false');
  t.equal(truthy(asStruct({}, 'T')), 'T', 'a struct is always true');
  t.equal(truthy(null), 'F');
  t.equal(truthy(new GoFloat(0)), 'F');
  t.equal(truthy(new GoNil('[]string')), 'F');
  t.equal(run('{{if .Missing}}T{{else}}F{{end}}', {}), 'F');
});

t.test("Go's default printing", async (t) => {
  t.equal(run('{{.}}', ['a', 'b']), '[a b]');
  t.equal(run('{{.}}', { b: 'x', a: [1, 2] }), 'map[a:[1 2] b:x]');
  t.equal(run('{{.}}', 1.5), '1.5');
  t.equal(run('{{.}}', new GoFloat(1e6)), '1e+06');
  t.equal(run('{{.}}', 12345678), '12345678');
  t.equal(run('{{.}}', true), 'true');
  t.equal(run('{{.Missing}}', {}), '<no value>', 'a missing map key');
  t.equal(run('{{.X}}', { X: null }), '<no value>', 'a nil in a map, as Go digs it out of interface{}');
  t.equal(run('{{print .X}}', { X: null }), '<nil>');
  t.equal(run('{{.X}}', asStruct({ X: null }, 'T')), '<nil>', "a struct's nil pointer field");
  t.equal(run('{{.A}}|{{.B}}|{{.C}}', asStruct({ A: new GoNil('[]string'), B: new GoNil('map[string]string'), C: new GoNil('*T') }, 'T')), '[]|map[]|<nil>');
  t.equal(run('{{.}}', asStruct({ Type: 'layers', Layers: ['sha256:a', 'sha256:b'], BaseLayer: '' }, 'types.RootFS')), '{layers [sha256:a sha256:b] }');
  t.equal(run('{{.}}', asStruct({ A: 1 }, '*x.T')), '{1}', 'the action prints what a pointer points to');
  t.equal(run('{{printf "%v" .}}', asStruct({ A: 1 }, '*x.T')), '&{1}');
  const time = { [GO_STRINGER]: () => '2026-12-01 23:57:31.780105966 +0000 UTC' };
  t.equal(run('{{.T}}', { T: time }), '2026-12-01 23:57:31.780105966 +0000 UTC', 'a Stringer prints its String()');
  t.equal(run('{{index .M "k"}}|{{index .M "nope"}}', { M: asGoMap({ k: 'v' }, 'map[string]string', '') }), 'v|', "index of a map[string]string's missing key is \"\"");
  t.equal(run('{{index .M "nope"}}', { M: { k: 'v' } }), '<no value>', 'of a map[string]interface{}: nil');
});

t.test('printf verbs (docker 20.10)', async (t) => {
  t.equal(run('{{printf "%5s|%-5s|%.2s|%q|%x|%X|% x|%05s" "ab" "ab" "abc" "a\\"b\\t" "hi" "hi" "hi" "ab"}}'), '   ab|ab   |ab|"a\\"b\\t"|6869|6869|68 69|000ab');
  t.equal(run('{{printf "%d|%5d|%-5d|%05d|%+d|%x|%X|%o|%b|%#x|%#o|%c|%q|%U" 42 42 42 42 42 255 255 8 5 255 8 65 65 65}}'), "42|   42|42   |00042|+42|ff|FF|10|101|0xff|010|A|'A'|U+0041");
  t.equal(
    run('{{printf "%v|%.2f|%8.3f|%-8.3f|%e|%E|%g|%G|%.3g|%f" 3.14159 3.14159 3.14159 3.14159 1234.5678 1234.5678 1234.5678 0.000012345 1234.5678 2.5}}'),
    '3.14159|3.14|   3.142|3.142   |1.234568e+03|1.234568E+03|1234.5678|1.2345E-05|1.23e+03|2.500000',
  );
  t.equal(run('{{printf "%.0f|%.0f|%.0f|%.1f|%.2f|%.3g" 0.5 1.5 2.5 0.25 1.005 1.125}}'), '0|2|2|0.2|1.00|1.12', 'round half to even on the exact binary value');
  t.equal(run('{{printf "%v|%v|%v|%v|%v" 1e6 123456.0 1e21 0.0001 0.00001}}'), '1e+06|123456|1e+21|0.0001|1e-05');
  t.equal(run('{{printf "%t|%v|%s|%d" true false true true}}'), 'true|false|%!s(bool=true)|%!d(bool=true)');
  t.equal(run('{{printf "%s %s" "a"}}|{{printf "%s" "a" "b" 3}}|{{printf "%!"}}|{{printf "%"}}|{{printf "%z" 3}}'), 'a %!s(MISSING)|a%!(EXTRA string=b, int=3)|%!!(MISSING)|%!(NOVERB)|%!z(int=3)');
  t.equal(run('{{printf "%v %s %d" nil nil nil}}'), '<nil> %!s(<nil>) %!d(<nil>)');
  t.equal(run('{{printf "%[2]s %[1]s" "a" "b"}}|{{printf "%*d|%-*d|%.*f" 5 1 5 1 2 3.14159}}'), 'b a|    1|1    |3.14');
  t.equal(run('{{printf "%6.2f|%-8.3e|%+.1e|%#g|%g|%g|%g" 3.14159 1234.5 0.00012 1.0 100000.0 1000000.0 1e-5}}'), '  3.14|1.234e+03|+1.2e-04|1.00000|100000|1e+06|1e-05');
  t.equal(run('{{printf "%#g|%#.3g|%#v|%#v|%#x|%#e" 1.0 2.0 1.5 42 "hi" 3.0}}'), '1.00000|2.00|1.5|42|0x6869|3.000000e+00');
  t.equal(run('{{printf "%v|%v|%.3v|%10.4v|%v" 1e20 1.5e-7 3.14159 3.14159 -0.0}}'), '1e+20|1.5e-07|3.14|     3.142|-0');
  t.equal(run('{{printf "%s|%v|%d" (split "a,b" ",") (split "a,b" ",") (split "a,b" ",")}}'), '[a b]|[a b]|[%!d(string=a) %!d(string=b)]');
  t.equal(run('{{printf "%q|%x" (split "a,b" ",") "hello"}}'), '["a" "b"]|68656c6c6f');
  t.equal(run('{{printf "%T|%T|%T|%T|%T" 1 1.5 "a" true nil}}'), 'int|float64|string|bool|<nil>');
  t.equal(run('{{printf "%08.3f|%+08d|%x|% d|%+q|%#q|%#v" -3.14159 42 -255 5 "é" "a`b" "s"}}'), '-003.142|+0000042|-ff| 5|"\\u00e9"|"a`b"|"s"');
  t.equal(run('{{printf "%6.2f%%|%s" 99.5 .Size}}'), ' 99.50%|3B');
  t.equal(run('{{printf "%d" .ID}}'), '%!d(string=650ca6c06143)');
});

t.test("Go's builtins (docker 20.10)", async (t) => {
  t.equal(run('{{print 1 2 "a" "b" 3 true false}}|{{print "x" 1}}|{{print}}|{{print nil}}'), '1 2ab3 true false|x1||<nil>');
  t.equal(run('{{println 1 "a" true}}'), '1 a true\n');
  t.equal(run('{{len "héllo"}}|{{index "abc" 1}}|{{slice "abcdef" 1 3}}|{{slice "abc" 1}}'), '6|98|bc|bc');
  t.equal(run('{{eq 1 1}}|{{eq 1 2 3 1}}|{{ne "a" "b"}}|{{lt 1 2}}|{{le 2 2}}|{{gt "b" "a"}}|{{ge 1 2}}'), 'true|true|true|true|true|true|false');
  t.equal(run('{{and 1 0 2}}|{{and 1 2}}|{{or 0 "" 3}}|{{or 0 ""}}|{{not 0}}|{{not "x"}}'), '0|2|3||true|false');
  t.equal(run(`{{html "<a href='x'>&\\"</a>"}}|{{js "<a='x'>&\\"\\\\\\t"}}|{{urlquery "a b&c=d/é"}}`), "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;|\\u003Ca\\u003D\\'x\\'\\u003E\\u0026\\\"\\\\\\u0009|a+b%26c%3Dd%2F%C3%A9");
  t.equal(run('{{index .A 1 0}}|{{index .M "k"}}|{{len .M}}|{{len .A}}', { A: [['x'], ['y', 'z']], M: { k: 'v' } }), 'y|v|1|2');
  t.equal(run('{{and .A (index .A 0)}}', { A: [] }), '[]', 'and stops at the first false argument (Go 1.18+), index is never called');
  t.equal(run('{{or .A .B}}', { A: 'a' }), 'a', 'or stops at the first true argument: .B is never read');
  t.equal(run('{{call .F 2 3}}', { F: () => (a: number, b: number) => a * b }), '6');
  t.equal(run('{{eq .Missing "x"}}', {}), 'false', 'a missing value compares unequal, without error');
});

t.test("docker's functions (docker 20.10)", async (t) => {
  t.equal(run('{{upper "héllo ß"}}|{{lower "HÉLLO"}}|{{title "hello wOrld-foo_bar x.y élan"}}'), 'HÉLLO ß|héllo|Hello WOrld-Foo_bar X.Y Élan');
  t.equal(run('{{split "a,b,,c" ","}}|{{join (split "a:b:c" ":") "-"}}|{{split "abc" ""}}|{{len (split "" ",")}}'), '[a b  c]|a-b-c|[a b c]|1');
  t.equal(run('{{pad "abc" 2 3}}|{{pad "" 2 3}}|{{truncate "abcdef" 3}}|{{truncate "ab" 3}}|{{truncate "abc" 3}}'), '  abc   ||abc|ab|abc');
  t.equal(run('{{json 1}}|{{json 1.5}}|{{json "a\\u2028b<>&\\t\\u0001"}}|{{json nil}}|{{json true}}|{{json (split "a,b" ",")}}'), '1|1.5|"a\\u2028b<>&\\t\\u0001"|null|true|["a","b"]');
  t.equal(run('{{json .Digest}}|{{json "<&>"}}'), '"<none>"|"<&>"', "docker's json does not escape HTML characters");
  t.equal(
    run('{{json .}}'),
    '{"Containers":"N/A","CreatedAt":"2026-12-01 23:59:09 +0000 UTC","CreatedSince":"10 minutes ago","Digest":"\\u003cnone\\u003e","ID":"650ca6c06143","Repository":"test","SharedSize":"N/A","Size":"3B","Tag":"1","UniqueSize":"N/A","VirtualSize":"3B"}',
    "a formatter row marshals itself: sorted keys, HTML-escaped (docker's MarshalJSON)",
  );
  t.equal(run('{{json .}}', { b: 1, a: { y: [1, 'x'], x: null } }), '{"b":1,"a":{"y":[1,"x"],"x":null}}', 'plain objects keep their key order');
  t.equal(run('{{json .}}', asGoMap({ b: '1', a: '2' })), '{"a":"2","b":"1"}', 'a Go map sorts its keys');
  t.equal(run('{{json .T}}', { T: { toJSON: () => '2026-12-01T23:57:31.780105966Z' } }), '"2026-12-01T23:57:31.780105966Z"');
  t.equal(run('{{join .L ", "}}', { L: ['x', 'y'] }), 'x, y');
});

t.test('execution errors in Go\'s words (docker 20.10)', async (t) => {
  const e = (text: string, want: string, data?: unknown) => t.equal(errorOf(text, data), want, text);
  e('{{.Foo}}', 'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.imageContext');
  e('{{.ID.Foo}}', 'template: :1:5: executing "" at <.ID.Foo>: can\'t evaluate field Foo in type string');
  e('{{.Foo.Bar}}', 'template: :1:6: executing "" at <.Foo.Bar>: can\'t evaluate field Foo in type *formatter.imageContext');
  e('{{.ID}} {{.Foo}}', 'template: :1:10: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.imageContext');
  e('{{.Label "a"}}', 'template: :1:2: executing "" at <.Label>: can\'t evaluate field Label in type *formatter.imageContext');
  e('{{.ID .Tag}}', 'template: :1:2: executing "" at <.ID>: wrong number of args for ID: want 0 got 1');
  e('{{.Tag | .ID}}', 'template: :1:9: executing "" at <.ID>: wrong number of args for ID: want 0 got 1');
  e('{{3 | .ID}}', 'template: :1:6: executing "" at <.ID>: wrong number of args for ID: want 0 got 1');
  e('{{nil}}', 'template: :1:2: executing "" at <nil>: nil is not a command');
  e('{{len 3}}', 'template: :1:2: executing "" at <len 3>: error calling len: len of type int');
  e('{{len .}}', 'template: :1:2: executing "" at <len .>: error calling len: len of type formatter.imageContext');
  e('{{index . "ID"}}', 'template: :1:2: executing "" at <index . "ID">: error calling index: can\'t index item of type formatter.imageContext');
  e('{{index .ID 99}}', 'template: :1:2: executing "" at <index .ID 99>: error calling index: index out of range: 99');
  e('{{index (split "a,b" ",") 5}}', 'template: :1:2: executing "" at <index (split "a,b" ",") 5>: error calling index: index out of range: 5');
  e('{{index (split "a,b" ",") "x"}}', 'template: :1:2: executing "" at <index (split "a,b" ",") "x">: error calling index: cannot index slice/array with type string');
  e('{{index nil 1}}', 'template: :1:2: executing "" at <index nil 1>: error calling index: index of untyped nil');
  e('{{slice "abc" 2 1}}', 'template: :1:2: executing "" at <slice "abc" 2 1>: error calling slice: invalid slice index: 2 > 1');
  e('{{slice "abc" 1 5}}', 'template: :1:2: executing "" at <slice "abc" 1 5>: error calling slice: index out of range: 5');
  e('{{split .ID}}', 'template: :1:2: executing "" at <split>: wrong number of args for split: want 2 got 1');
  e('{{pad .ID 1}}', 'template: :1:2: executing "" at <pad>: wrong number of args for pad: want 3 got 2');
  e('{{and}}', 'template: :1:2: executing "" at <and>: wrong number of args for and: want at least 1 got 0');
  e('{{truncate .ID "x"}}', 'template: :1:15: executing "" at <"x">: expected integer; found "x"');
  e('{{upper 3}}', 'template: :1:8: executing "" at <3>: expected string; found 3');
  e('{{printf 3}}', 'template: :1:9: executing "" at <3>: expected string; found 3');
  e('{{join "a" ","}}', 'template: :1:7: executing "" at <"a">: can\'t handle "a" for arg of type []string');
  e('{{eq 1 1.5}}', 'template: :1:2: executing "" at <eq 1 1.5>: error calling eq: incompatible types for comparison');
  e('{{eq 3 .N}}', 'template: :1:2: executing "" at <eq 3 .N>: error calling eq: incompatible types for comparison', { N: new GoFloat(3) });
  e('{{eq (split "a" ",") 1}}', 'template: :1:2: executing "" at <eq (split "a" ",") 1>: error calling eq: incompatible types for comparison');
  e('{{lt true false}}', 'template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison');
  e('{{lt 1 "a"}}', 'template: :1:2: executing "" at <lt 1 "a">: error calling lt: incompatible types for comparison');
  e('{{range 3}}x{{end}}', 'template: :1:8: executing "" at <3>: range can\'t iterate over 3');
  e('{{range .ID}}x{{end}}', 'template: :1:8: executing "" at <.ID>: range can\'t iterate over 650ca6c06143');
  e('{{"x" "y"}}', 'template: :1:2: executing "" at <"x">: can\'t give argument to non-function "x"');
  e('{{$x := 1}}{{$x 2}}', 'template: :1:13: executing "" at <$x>: can\'t give argument to non-function $x');
  e('{{(split "a.b" ".").x}}', 'template: :1:15: executing "" at <".">: can\'t evaluate field x in type []string');
  e('{{$x := split "a,b" ","}}{{len $x}}{{$x.y}}', 'template: :1:39: executing "" at <$x.y>: can\'t evaluate field y in type []string');
  e('{{(.ID).Foo}}', 'template: :1:3: executing "" at <.ID>: can\'t evaluate field Foo in type string');
  e('{{$.ID}}|{{$.Foo}}', 'template: :1:12: executing "" at <$.Foo>: can\'t evaluate field Foo in type *formatter.imageContext');
  e('line1\n  {{.Foo}}', 'template: :2:4: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.imageContext');
  e('{{.A.B}}', 'template: :1:4: executing "" at <.A.B>: nil pointer evaluating interface {}.B', { A: null });
  e('{{.A.B}}', 'template: :1:4: executing "" at <.A.B>: can\'t evaluate field B in type interface {}', { A: 'x' });
  e('{{.A "x"}}', 'template: :1:2: executing "" at <.A>: A is not a method but has arguments', { A: 'x' });
  e('{{upper .X}}', 'template: :1:8: executing "" at <.X>: invalid value; expected string', {});
  e('{{upper .X}}', 'template: :1:8: executing "" at <.X>: wrong type for value; expected string; got int', { X: 3 });
  t.equal(run('{{.A.B}}', {}), '<no value>', 'a field of a missing map key is no value, not an error');
});

t.test('missingkey=error, as docker inspect retries over the raw JSON', async (t) => {
  const tmpl = parseTemplate('{{.Nope}}');
  t.throws(() => executeTemplate(tmpl, { a: 1 }, { missingKey: 'error' }), { message: 'template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"' });
  t.equal(executeTemplate(tmpl, { a: 1 }), '<no value>');
  t.equal(executeTemplate(parseTemplate('{{.a}}'), { a: 1 }, { missingKey: 'error' }), '1');
});

t.test("parse errors in Go's words (docker 20.10)", async (t) => {
  const e = (text: string, want: string) => t.equal(errorOf(text), want, text);
  e('{{.ID}', "template: :1: bad character U+007D '}'");
  e('{{foo .ID}}', 'template: :1: function "foo" not defined');
  e('{{.ID | foo}}', 'template: :1: function "foo" not defined');
  e('{{if}}x{{end}}', 'template: :1: missing value for if');
  e('{{if .ID}}x', 'template: :1: unexpected EOF');
  e('{{end}}', 'template: :1: unexpected {{end}}');
  e('{{else}}', 'template: :1: unexpected {{else}}');
  e('{{$x}}', 'template: :1: undefined variable "$x"');
  e('{{(.ID}}', 'template: :1: unclosed left paren');
  e('{{.ID)}}', 'template: :1: unexpected ")" in command');
  e('{{"abc}}', 'template: :1: unterminated quoted string');
  e('{{`abc}}', 'template: :1: unterminated raw quoted string');
  e('{{/* c */ .ID}}', 'template: :1: comment ends before closing delimiter');
  e('{{/* c ', 'template: :1: unclosed comment');
  e('{{.ID', 'template: :1: unclosed action');
  e('{{.ID !}}', 'template: :1: unexpected "!" in operand');
  e('{{3x}}', 'template: :1: bad number syntax: "3x"');
  e('{{.ID | 3}}', 'template: :1: non executable command in pipeline stage 2');
  e('{{if .ID}}{{else}}{{else}}{{end}}', 'template: :1: expected end; found {{else}}');
  e('{{range $a, $b, $c := .ID}}{{end}}', 'template: :1: too many declarations in range');
  e('{{$a, $b := 1}}', 'template: :1: too many declarations in command');
  e('{{break}}', 'template: :1: {{break}} outside {{range}}');
  e('{{ | .ID}}', 'template: :1: unexpected "|" in command');
  e('{{"a".x}}', 'template: :1: unexpected . after term "\\"a\\""');
  e('a\nb\n{{end}}', 'template: :3: unexpected {{end}}');
  e('{{.A\n.B', 'template: :2: unclosed action started at :1');
  e('{{"a\nb"}}', 'template: :1: unterminated quoted string');
  t.equal(run('{{.ID\n}}x{{if .ID\n}}y{{end\n}}'), '650ca6c06143xy', 'an action may span lines');
  e('{{with .A}}{{else if .B}}{{end}}', 'template: :1: unexpected <if> in input');
});

t.test('TemplateError is a one-line StrataError', async (t) => {
  try {
    parseTemplate('{{');
    t.fail('no error');
  } catch (e) {
    t.ok(e instanceof TemplateError);
    t.ok(e instanceof StrataError);
    t.notMatch((e as Error).message, /\n/);
  }
});
