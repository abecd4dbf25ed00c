// docker's formatter conventions. Strings marked "docker 20.10" were printed by /usr/bin/docker 20.10 on a
// private dockerd: `docker images --format …` over two rows (test:1 and other/repo:v2 of one image), images
// imported with files of exact sizes, and images loaded with chosen `created` times.
import t from 'tap';
import {
  dockerCreatedAt,
  dockerCreatedSince,
  dockerEllipsis,
  dockerFinalFormat,
  dockerHumanDuration,
  dockerHumanSize,
  dockerTimeRFC3339,
  goJson,
  isTableFormat,
  parseGoTime,
  renderFormat,
  tabwrite,
  truncateId,
} from '../../cli/docker-format.js';
import { asFormatterContext, asStruct, TemplateError } from '../../cli/go-template.js';

const HEADERS = { ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', CreatedSince: 'CREATED', Size: 'SIZE' };
const DEFAULT_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

function rows() {
  const base = { ID: '650ca6c06143', Digest: '<none>', CreatedSince: '10 minutes ago', Size: '3B' };
  return [
    { ...base, Repository: 'test', Tag: '1' },
    { ...base, Repository: 'other/repo', Tag: 'v2' },
  ];
}

const render = (format: string, r: object[] = rows()) =>
  renderFormat(format, r, HEADERS, { typeName: '*formatter.imageContext', defaultTable: DEFAULT_TABLE });

t.test('isTableFormat and the format docker executes', async (t) => {
  t.ok(isTableFormat('table'));
  t.ok(isTableFormat('table {{.ID}}'));
  t.ok(isTableFormat('tablet'), 'docker only looks at the prefix');
  t.notOk(isTableFormat('{{.ID}} table'));
  t.equal(dockerFinalFormat('table   {{.ID}}\\t{{.Tag}}\\n  '), '{{.ID}}\t{{.Tag}}\n');
  t.equal(dockerFinalFormat(' {{.ID}} '), '{{.ID}}', 'spaces trimmed, not tabs');
});

t.test('tables (docker 20.10)', async (t) => {
  t.equal(render('table {{.ID}}\\t{{.Repository}}', rows().slice(0, 1)), 'IMAGE ID       REPOSITORY\n650ca6c06143   test\n');
  t.equal(render('table'), 'REPOSITORY   TAG       IMAGE ID       CREATED          SIZE\ntest         1         650ca6c06143   10 minutes ago   3B\nother/repo   v2        650ca6c06143   10 minutes ago   3B\n', '"table" alone is the default table');
  t.equal(render(''), render('table'), 'no format is the default table');
  t.equal(
    render('table {{.Repository}}\\t{{if eq .Tag "1"}}{{.Tag}}\\tx{{end}}\\t{{.ID}}'),
    'REPOSITORY             IMAGE ID\ntest         1         x         650ca6c06143\nother/repo             650ca6c06143\n',
    'rows with more cells than the header',
  );
  t.equal(render('table {{.Repository}}\\t\\t{{.Tag}}'), 'REPOSITORY             TAG\ntest                   1\nother/repo             v2\n', 'an empty column is minwidth wide');
  t.equal(render('{{.Repository}}\\t{{.Tag}}'), 'test\t1\nother/repo\tv2\n', 'no table: no alignment, tabs kept');
  t.equal(render('table    {{.Repository}}:{{.Tag}}   '), 'REPOSITORY:TAG\ntest:1\nother/repo:v2\n');
  t.equal(render('table {{.Repository}}\\n{{.Tag}}\\tz'), 'REPOSITORY\nTAG       z\ntest\n1         z\nother/repo\nv2        z\n', 'lines without a tab end a column block');
  t.equal(render('table {{.Repository}}\\ttérès日本\\t{{.Tag}}'), 'REPOSITORY   térès日本   TAG\ntest         térès日本   1\nother/repo   térès日本   v2\n', 'widths count runes');
  t.equal(render('table {{.Repository}}\\t{{.Tag}}\\t'), 'REPOSITORY   TAG       \ntest         1         \nother/repo   v2        \n', 'a trailing tab pads the last cell');
  t.equal(render('table {{.Repository | printf "%-20s"}}|{{.Tag}}'), 'REPOSITORY          |TAG\ntest                |1\nother/repo          |v2\n', 'functions in the header see the header text');
  t.equal(render('table {{json .}}', []), '\n', 'a header that fails prints what it had (json of the header map is refused)');
  t.equal(render('table {{.ID}}\\t{{.Foo}}\\t{{upper .Tag}}|{{json .Size}}|{{printf "%d" .Size}}', []), 'IMAGE ID   <no value>   TAG|SIZE|%!d(string=SIZE)\n', 'no rows: the header alone, unknown fields as <no value>');
  t.equal(renderFormat('table {{.Names}}\\t{{.Label "a"}}\\t{{.ID}}', [], { Names: 'NAMES', ID: 'CONTAINER ID' }), 'NAMES     a         CONTAINER ID\n', "the header of .Label is the label's last part");
  t.equal(renderFormat('table {{.Label "com.example.my-label_x"}}', [], {}), 'my label x\n');
  t.equal(render('{{.Tag}}', []), '', 'no table and no rows: nothing');
});

t.test('{{json .}} of a row (docker 20.10)', async (t) => {
  const r = [{ Containers: 'N/A', CreatedAt: '2026-12-01 23:59:09 +0000 UTC', CreatedSince: '15 minutes ago', Digest: '<none>', ID: '650ca6c06143', Repository: 'test', SharedSize: 'N/A', Size: '3B', Tag: '1', UniqueSize: 'N/A', VirtualSize: '3B' }];
  t.equal(
    render('{{json .}}', r),
    '{"Containers":"N/A","CreatedAt":"2026-12-01 23:59:09 +0000 UTC","CreatedSince":"15 minutes ago","Digest":"\\u003cnone\\u003e","ID":"650ca6c06143","Repository":"test","SharedSize":"N/A","Size":"3B","Tag":"1","UniqueSize":"N/A","VirtualSize":"3B"}\n',
  );
  const withMethods = asFormatterContext({ Names: 'x', Label: (k: string) => k, Size: () => '0B', internal: 'hidden' }, '*formatter.ContainerContext');
  t.equal(render('{{json .}}', [withMethods]), '{"Names":"x","Size":"0B"}\n', 'methods with arguments and unexported fields are left out');
});

t.test('template errors as docker prints them (docker 20.10)', async (t) => {
  t.throws(() => render('{{.Foo}}'), { message: 'template parsing error: template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.imageContext' });
  t.throws(() => render('{{.ID}'), { message: "template parsing error: template: :1: bad character U+007D '}'" });
  t.throws(() => render('table {{.ID}}\\t{{.Nope}}'), { message: 'template parsing error: template: :1:10: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.imageContext' });
  t.throws(() => render('{{printf "a\\n"}}'), { message: 'template parsing error: template: :1: unterminated quoted string' }, 'docker makes \\n real before parsing');
  try {
    render('{{foo}}');
  } catch (e) {
    t.ok(e instanceof TemplateError);
  }
});

t.test('goJson: Go encoding/json', async (t) => {
  t.equal(goJson({ b: '<a&b>', a: [1, 1.5, true, null], c: { x: '\u2028\u2029' } }), '{"b":"\\u003ca\\u0026b\\u003e","a":[1,1.5,true,null],"c":{"x":"\\u2028\\u2029"}}');
  t.equal(goJson('tab\tnl\ncr\rq"bs\\ \u0001\u001f\u007f é 日'), '"tab\\tnl\\ncr\\rq\\"bs\\\\ \\u0001\\u001f\u007f é 日"');
  t.equal(goJson('\b\f'), '"\\u0008\\u000c"', 'Go 1.19 has no short \\b and \\f');
  t.equal(goJson('\ud800x'), '"\ufffdx"', 'a lone surrogate becomes U+FFFD');
  t.equal(goJson(1e21), '1e+21');
  t.equal(goJson(1e-7), '1e-7');
  t.equal(goJson(123456789), '123456789');
  t.equal(goJson(undefined), 'null');
  t.equal(goJson({ a: undefined, b: () => 1, c: 1 }), '{"c":1}', 'undefined and functions are left out');
  t.equal(goJson(asStruct({ Variant: '', Os: 'linux', Size: 0 }, 'T', { omitEmpty: ['Variant', 'Size'] })), '{"Os":"linux"}', 'omitempty');
  t.equal(goJson(Buffer.from('hi')), '"aGk="', '[]byte is base64');
});

t.test('dockerHumanSize: go-units HumanSizeWithPrecision', async (t) => {
  // docker 20.10 (images of exactly these sizes)
  t.equal(dockerHumanSize(999), '999B');
  t.equal(dockerHumanSize(1000), '1kB');
  t.equal(dockerHumanSize(1005), '1kB');
  t.equal(dockerHumanSize(1125), '1.12kB', 'half to even, as Go rounds the exact 1.125');
  t.equal(dockerHumanSize(1234), '1.23kB');
  t.equal(dockerHumanSize(2500), '2.5kB');
  t.equal(dockerHumanSize(999999), '1e+03kB');
  t.equal(dockerHumanSize(1994999), '1.99MB');
  t.equal(dockerHumanSize(1994999, 4), '1.995MB', "docker's UniqueSize, 4 digits");
  t.equal(dockerHumanSize(41834567), '41.8MB');
  t.equal(dockerHumanSize(41834567, 4), '41.83MB');
  t.equal(dockerHumanSize(44.84e6, 4), '44.84MB');
  // the unit boundaries
  t.equal(dockerHumanSize(0), '0B');
  t.equal(dockerHumanSize(0, 4), '0B');
  t.equal(dockerHumanSize(1), '1B');
  t.equal(dockerHumanSize(1e6), '1MB');
  t.equal(dockerHumanSize(1e6 - 1, 4), '1000kB');
  t.equal(dockerHumanSize(1e9), '1GB');
  t.equal(dockerHumanSize(1e12), '1TB');
  t.equal(dockerHumanSize(1e15), '1PB');
  t.equal(dockerHumanSize(1e18), '1EB');
  t.equal(dockerHumanSize(1e21), '1ZB');
  t.equal(dockerHumanSize(1e24), '1YB');
  t.equal(dockerHumanSize(1e27), '1e+03YB', 'no unit above YB');
  t.equal(dockerHumanSize(5.3e9), '5.3GB');
});

t.test('dockerHumanDuration: go-units HumanDuration at every threshold', async (t) => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const cases: [number, string][] = [
    [-5 * s, 'Less than a second'],
    [0, 'Less than a second'],
    [999, 'Less than a second'],
    [s, '1 second'],
    [2 * s - 1, '1 second'],
    [2 * s, '2 seconds'],
    [60 * s - 1, '59 seconds'],
    [m, 'About a minute'],
    [2 * m - 1, 'About a minute'],
    [2 * m, '2 minutes'],
    [60 * m - 1, '59 minutes'],
    [h, 'About an hour'],
    [1.5 * h - 1, 'About an hour'],
    [1.5 * h, '2 hours', 'hours are rounded'],
    [47.5 * h - 1, '47 hours'],
    [47.5 * h, '2 days'],
    [14 * d - 0.5 * h - 1, '13 days'],
    [14 * d - 0.5 * h, '2 weeks'],
    [60 * d - 0.5 * h - 1, '8 weeks'],
    [60 * d - 0.5 * h, '2 months'],
    [730 * d - 0.5 * h - 1, '24 months'],
    [730 * d - 0.5 * h, '1 years', 'go-units counts years on the hours cut down, so "1 years" for half an hour'],
    [730 * d, '2 years'],
    [3650 * d, '10 years'],
  ];
  for (const [ms, want, why] of cases as [number, string, string?][]) t.equal(dockerHumanDuration(ms), want, why ?? `${ms} ms`);
});

t.test('dockerCreatedSince and the Go time strings', async (t) => {
  const created = '2026-12-01T23:59:09.311794456Z';
  const at = Date.parse('2026-12-01T23:59:09Z');
  t.equal(dockerCreatedSince(created, at + 999), 'Less than a second ago');
  t.equal(dockerCreatedSince(created, at + 1000), '1 second ago', 'created is cut to its second, as the API gives it');
  t.equal(dockerCreatedSince(created, at + 10 * 60_000), '10 minutes ago');
  t.equal(dockerCreatedSince(created, at - 60_000), 'Less than a second ago', 'a time in the future');
  t.equal(dockerCreatedSince('not a time'), 'N/A');
  t.same(parseGoTime('2026-12-01T23:59:09.311794456+02:00'), { sec: Date.parse('2026-12-01T21:59:09Z') / 1000, nsec: 311794456 });
  t.same(parseGoTime('0001-01-01T00:00:00Z'), { sec: -62135596800, nsec: 0 });

  const savedTz = process.env.TZ;
  t.teardown(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });
  const at2 = (tz: string | undefined, iso: string) => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
    return dockerCreatedAt(iso);
  };
  // docker 20.10: `TZ=… docker images --format '{{.CreatedAt}}'`
  t.equal(at2('UTC', created), '2026-12-01 23:59:09 +0000 UTC');
  t.equal(at2('', created), '2026-12-01 23:59:09 +0000 UTC');
  t.equal(at2('Nope/Zone', created), '2026-12-01 23:59:09 +0000 UTC', 'an unknown zone is UTC');
  t.equal(at2('Europe/Paris', created), '2026-12-02 00:59:09 +0100 CET');
  t.equal(at2('America/New_York', created), '2026-12-01 18:59:09 -0500 EST');
  t.equal(at2('Asia/Kolkata', created), '2026-12-02 05:29:09 +0530 IST');
  t.equal(at2('Australia/Lord_Howe', created), '2026-12-02 10:59:09 +1100 +11');
  t.equal(at2('America/Sao_Paulo', created), '2026-12-01 20:59:09 -0300 -03');
  t.equal(at2(':Europe/London', created), '2026-12-01 23:59:09 +0000 GMT');
  t.equal(at2('Europe/Paris', '2001-07-04T12:34:56.123456789Z'), '2001-07-04 14:34:56 +0200 CEST');
  t.equal(at2('Europe/Paris', '1969-12-31T23:00:00Z'), '1970-01-01 00:00:00 +0100 CET');
  t.equal(at2('America/New_York', '2001-07-04T12:34:56Z'), '2001-07-04 08:34:56 -0400 EDT');
  t.equal(at2('America/New_York', '1969-12-31T23:00:00Z'), '1969-12-31 18:00:00 -0500 EST');
  t.equal(at2('Europe/Paris', '2040-07-01T12:00:00Z'), '2040-07-01 14:00:00 +0200 CEST', "beyond the file's transitions, its POSIX rule");
  t.equal(at2('Australia/Lord_Howe', '2040-07-01T12:00:00Z'), '2040-07-01 22:30:00 +1030 +1030');
  t.equal(at2('America/New_York', '2041-11-03T05:59:59Z'), '2041-11-03 01:59:59 -0400 EDT', 'the last second of DST in 2041');
  t.equal(at2('America/New_York', '2041-11-03T06:00:00Z'), '2041-11-03 01:00:00 -0500 EST');
  process.env.TZ = 'Europe/Paris';
  t.equal(dockerTimeRFC3339('2001-07-04T12:34:56.5Z'), '2001-07-04T14:34:56+02:00');
  process.env.TZ = 'UTC';
  t.equal(dockerTimeRFC3339('2001-07-04T12:34:56.5Z'), '2001-07-04T12:34:56Z');
});

t.test('tabwrite: Go tabwriter cells', async (t) => {
  t.equal(tabwrite('a\tb\tc\naaaa\tbbbbbbbbbbbbb\tc\n'), 'a         b               c\naaaa      bbbbbbbbbbbbb   c\n');
  t.equal(tabwrite('x\ty\n\nlonger-cell\tz\n'), 'x         y\n\nlonger-cell   z\n', 'an empty line ends the block');
  t.equal(tabwrite('no tabs at all\n'), 'no tabs at all\n');
  t.equal(tabwrite('a\tb', { minwidth: 0, padding: 1 }), 'a b', 'text after the last newline is flushed too');
  t.equal(tabwrite('日本\tx\nab\ty\n', { minwidth: 0, padding: 1, padchar: '.' }), '日本.x\nab.y\n', 'runes, not display columns');
});

t.test('small docker helpers', async (t) => {
  t.equal(truncateId('sha256:650ca6c06143e7c7f333d5d2ffa969cd5f0c22a2525364ef4791d38b3ecfac68'), '650ca6c06143');
  t.equal(truncateId('abc'), 'abc');
  t.equal(dockerEllipsis('abcdef', 4), 'abc…');
  t.equal(dockerEllipsis('abcd', 4), 'abcd');
  t.equal(dockerEllipsis('abc', 1), 'a');
  t.equal(dockerEllipsis('abc', 0), '');
  t.equal(dockerEllipsis('日本語テキスト', 7), '日本語…', 'wide runes count 2');
  t.equal(dockerEllipsis('日本', 4), '日本');
  t.equal(dockerEllipsis('é日本語', 4), 'é日…');
  t.equal(dockerEllipsis('é日本語', 3), 'é…');
});
