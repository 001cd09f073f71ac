package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// errorCases are broken configurations, each with every message Parse must
// report, in order, as FILE:LINE:COL: message.
var errorCases = []struct {
	name string
	yaml string
	want []string
}{
	{
		name: "syntax error",
		yaml: `a: [1, 2
b: 3
`,
		want: []string{
			"t.yaml:2:1: ',' or ']' must be specified",
		},
	},
	{
		name: "not a mapping",
		yaml: `- 1
- 2
`,
		want: []string{
			"t.yaml:1:1: configuration: want a mapping, got a list",
		},
	},
	{
		name: "two documents",
		yaml: `data_dir: x
---
data_dir: y
`,
		want: []string{
			"t.yaml:3:1: a second YAML document: the configuration is one document",
		},
	},
	{
		name: "unknown top key, close",
		yaml: `data_dri: x
`,
		want: []string{
			"t.yaml:1:1: unknown key \"data_dri\" (did you mean \"data_dir\"?)",
		},
	},
	{
		name: "unknown top key, far",
		yaml: `foo: 1
`,
		want: []string{
			"t.yaml:1:1: unknown key \"foo\" (known keys: data_dir, http, links, points, displays, simulators, metrics, alarms, history, events)",
		},
	},
	{
		name: "unknown nested key",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - id: p
    link: a
    ioa: 1
    kind: single
    sbo: true
`,
		want: []string{
			"t.yaml:8:5: unknown key \"sbo\" (\"sbo\" belongs under \"control\")",
		},
	},
	{
		name: "unknown key in flow mapping",
		yaml: `http: {listen: "h:1", lisen: "h:2"}
`,
		want: []string{
			"t.yaml:1:23: unknown key \"lisen\" (did you mean \"listen\"?)",
		},
	},
	{
		name: "unknown key in link",
		yaml: `links:
  - name: a
    adresses: ["h:1"]
    ca: 1
    interogation: {period: 1m}
    timezone: UTC
`,
		want: []string{
			"t.yaml:3:5: unknown key \"adresses\" (did you mean \"addresses\"?)",
			"t.yaml:5:5: unknown key \"interogation\" (did you mean \"interrogation\"?)",
			"t.yaml:6:5: unknown key \"timezone\" (did you mean \"time_zone\"?)",
		},
	},
	{
		name: "duplicate key",
		yaml: `data_dir: a
http:
  listen: "h:1"
  listen: "h:2"
data_dir: b
`,
		want: []string{
			"t.yaml:4:3: duplicate key \"listen\" (first at line 3)",
			"t.yaml:5:1: duplicate key \"data_dir\" (first at line 1)",
		},
	},
	{
		name: "wrong types",
		yaml: `links:
  - name: a
    addresses: "h:1"
    ca: "1"
    k: twelve
    w: 8.5
    originator: true
    tls: [x]
    interrogation: 5
`,
		want: []string{
			"t.yaml:3:16: addresses: want a list, got string \"h:1\"",
			"t.yaml:4:9: ca: want an integer, got string \"1\"",
			"t.yaml:5:8: k: want an integer, got string \"twelve\"",
			"t.yaml:6:8: w: want an integer, got number 8.5",
			"t.yaml:7:17: originator: want an integer, got boolean true",
			"t.yaml:8:10: tls: want a mapping, got a list",
			"t.yaml:9:20: interrogation: want a mapping, got integer 5",
		},
	},
	{
		name: "wrong types 2",
		yaml: `links: {name: a}
points: 3
simulators:
  - {link: a, listen: "h:1", rate: fast}
http:
  session: {idle_timeout: [1]}
`,
		want: []string{
			"t.yaml:1:8: links: want a list, got a mapping",
			"t.yaml:2:9: points: want a list, got integer 3",
			"t.yaml:4:36: rate: want a number, got string \"fast\"",
			"t.yaml:6:27: idle_timeout: want a duration such as 30s, got a list",
		},
	},
	{
		name: "wrong types control",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - id: p
    link: a
    ioa: 1
    kind: single
    labels: off
    control:
      type: single
      sbo: "yes"
      actterm: 1
      roles: operator
`,
		want: []string{
			"t.yaml:8:13: labels: want a list, got string \"off\"",
			"t.yaml:11:12: sbo: want true or false, got string \"yes\"",
			"t.yaml:12:16: actterm: want true or false, got integer 1",
			"t.yaml:13:14: roles: want a list, got string \"operator\"",
		},
	},
	{
		name: "integer overflow",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 99999999999999999999999}
`,
		want: []string{
			"t.yaml:2:39: ca: integer 99999999999999999999999 out of range",
		},
	},
	{
		name: "null list item",
		yaml: `links:
  -
  - {name: a, addresses: ["h:1"], ca: 1}
`,
		want: []string{
			"t.yaml:2:3: links[0]: want a mapping, got null",
		},
	},
	{
		name: "empty required fields",
		yaml: `links:
  - ca: 1
  - {name: "", addresses: [], ca: 1}
  - {name: b, addresses: [""]}
points:
  - {link: a}
  - {id: p, name: ""}
simulators:
  - {name: s}
`,
		want: []string{
			"t.yaml:2:5: name: required",
			"t.yaml:2:5: addresses: required",
			"t.yaml:3:12: name: must not be empty",
			"t.yaml:3:27: addresses: want at least one host:port",
			"t.yaml:4:5: ca: required",
			"t.yaml:4:27: addresses[0]: must not be empty",
			"t.yaml:6:5: id: required",
			"t.yaml:6:5: ioa: required",
			"t.yaml:6:5: kind: required",
			"t.yaml:6:12: link: no link named \"a\" (links: b)",
			"t.yaml:7:5: link: required",
			"t.yaml:7:5: ioa: required",
			"t.yaml:7:5: kind: required",
			"t.yaml:7:19: name: must not be empty",
			"t.yaml:9:5: link: required",
			"t.yaml:9:5: listen: required",
		},
	},
	{
		name: "duplicate link names",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
  - {name: b, addresses: ["h:2"], ca: 1}
  - {name: a, addresses: ["h:3"], ca: 1}
`,
		want: []string{
			"t.yaml:4:12: name: duplicate link name \"a\" (first at line 2)",
		},
	},
	{
		name: "bad names",
		yaml: `links:
  - {name: "a b", addresses: ["h:1"], ca: 1}
  - {name: -x, addresses: ["h:2"], ca: 1}
`,
		want: []string{
			"t.yaml:2:12: name: \"a b\": use letters, digits, '.', '_' and '-', starting with a letter or digit",
			"t.yaml:3:12: name: \"-x\": use letters, digits, '.', '_' and '-', starting with a letter or digit",
		},
	},
	{
		name: "addresses",
		yaml: `links:
  - name: a
    ca: 1
    addresses:
      - h
      - ":2404"
      - "h:0"
      - "h:70000"
      - "h:http"
      - "[::1]:2404"
      - "[fe80::zz]:1"
      - "h:1"
      - "h:1"
  - {name: b, ca: 1, addresses: ["h:1"]}
`,
		want: []string{
			"t.yaml:5:9: addresses[0]: \"h\": want host:port",
			"t.yaml:6:9: addresses[1]: \":2404\": host missing",
			"t.yaml:7:9: addresses[2]: \"h:0\": port \"0\" out of range 1..65535",
			"t.yaml:8:9: addresses[3]: \"h:70000\": port \"70000\" out of range 1..65535",
			"t.yaml:9:9: addresses[4]: \"h:http\": port \"http\" out of range 1..65535",
			"t.yaml:11:9: addresses[6]: \"[fe80::zz]:1\": bad IPv6 address \"fe80::zz\"",
			"t.yaml:13:9: addresses[8]: \"h:1\" already used by link \"a\" (line 12)",
			"t.yaml:14:34: addresses[0]: \"h:1\" already used by link \"a\" (line 12)",
		},
	},
	{
		name: "ca and originator",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 0, originator: 256}
  - {name: b, addresses: ["h:2"], ca: 65535, originator: -1}
  - {name: c, addresses: ["h:3"], ca: 65534, originator: 255}
`,
		want: []string{
			"t.yaml:2:39: ca: 0 out of range 1..65534",
			"t.yaml:2:54: originator: 256 out of range 0..255",
			"t.yaml:3:39: ca: 65535 out of range 1..65534",
			"t.yaml:3:58: originator: -1 out of range 0..255",
		},
	},
	{
		name: "k and w",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1, k: 0, w: 0}
  - {name: b, addresses: ["h:2"], ca: 1, k: 40000, w: 32768}
  - {name: c, addresses: ["h:3"], ca: 1, k: 12, w: 9}
  - {name: d, addresses: ["h:4"], ca: 1, k: 9}
  - {name: e, addresses: ["h:5"], ca: 1, k: 3, w: 2}
`,
		want: []string{
			"t.yaml:2:45: k: 0 out of range 1..32767",
			"t.yaml:2:51: w: 0 out of range 1..32767",
			"t.yaml:3:45: k: 40000 out of range 1..32767",
			"t.yaml:3:55: w: 32768 out of range 1..32767",
			"t.yaml:4:52: w: 9 is more than two thirds of k (12)",
			"t.yaml:5:45: k: 9 is too small for w 8 (w must not exceed two thirds of k)",
		},
	},
	{
		name: "timers",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1, t1: 10s, t2: 10s}
  - {name: b, addresses: ["h:2"], ca: 1, t1: 5s}
  - {name: c, addresses: ["h:3"], ca: 1, t0: 0, t3: 0s}
  - {name: d, addresses: ["h:4"], ca: 1, t1: 500ms, t2: 200ms}
`,
		want: []string{
			"t.yaml:2:55: t2: 10s must be less than t1 (10s)",
			"t.yaml:3:46: t1: 5s must be more than t2 (10s)",
			"t.yaml:4:46: t0: must be more than 0",
			"t.yaml:4:53: t3: must be more than 0",
		},
	},
	{
		name: "bad durations",
		yaml: `links:
  - name: a
    addresses: ["h:1"]
    ca: 1
    t0: 10x
    t1: -5s
    t2: 30
    t3: 5
    interrogation: {period: 1d}
    reconnect: {min: 0, max: ""}
`,
		want: []string{
			"t.yaml:5:9: t0: \"10x\" is not a duration (want a number with a unit: 500ms, 30s, 5m, 1h)",
			"t.yaml:6:9: t1: duration \"-5s\" is negative",
			"t.yaml:7:9: t2: \"30\" is not a duration (want a number with a unit: 500ms, 30s, 5m, 1h)",
			"t.yaml:8:9: t3: \"5\" is not a duration (want a number with a unit: 500ms, 30s, 5m, 1h)",
			"t.yaml:9:29: period: \"1d\" is not a duration (want a number with a unit: 500ms, 30s, 5m, 1h)",
			"t.yaml:10:22: min: must be more than 0",
			"t.yaml:10:30: max: \"\" is not a duration (want a number with a unit: 500ms, 30s, 5m, 1h)",
		},
	},
	{
		name: "durations and sizes",
		yaml: `links:
  - name: a
    addresses: ["h:1"]
    ca: 1
    reconnect: {min: 10s, max: 5s}
    capture: {max_size: 10XB, max_files: 0}
    traffic_buffer: -1
  - name: b
    addresses: ["h:2"]
    ca: 1
    capture: {max_size: 0, dir: ""}
    traffic_buffer: 1000001
    interrogation: {groups: [0, 1, 16, 17, 1]}
`,
		want: []string{
			"t.yaml:5:32: max: 5s is less than min 10s",
			"t.yaml:6:25: max_size: \"10XB\" is not a size (want bytes or a number with a unit: 512KiB, 10MB, 1GB)",
			"t.yaml:6:42: max_files: 0, want at least 1",
			"t.yaml:7:21: traffic_buffer: -1 out of range 1..1000000",
			"t.yaml:11:25: max_size: must be more than 0",
			"t.yaml:11:33: dir: must not be empty",
			"t.yaml:12:21: traffic_buffer: 1000001 out of range 1..1000000",
			"t.yaml:13:30: groups[0]: 0 out of range 1..16",
			"t.yaml:13:40: groups[3]: 17 out of range 1..16",
			"t.yaml:13:44: groups[4]: group 1 listed twice",
		},
	},
	{
		name: "time zones",
		yaml: `links:
  - name: a
    addresses: ["h:1"]
    ca: 1
    time_zone: Mars/Olympus
    clock_sync: {time_zone: Europe/Pariss}
  - {name: b, addresses: ["h:2"], ca: 1, time_zone: ""}
`,
		want: []string{
			"t.yaml:5:16: time_zone: unknown time zone \"Mars/Olympus\" (want an IANA name such as UTC or Europe/Paris)",
			"t.yaml:6:29: time_zone: unknown time zone \"Europe/Pariss\" (want an IANA name such as UTC or Europe/Paris)",
			"t.yaml:7:53: time_zone: must not be empty",
		},
	},
	{
		name: "duplicate point ids",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - {id: p, link: a, ioa: 1, kind: single}
  - {id: q, link: a, ioa: 2, kind: single}
  - {id: p, link: a, ioa: 3, kind: single}
  - {id: "p q", link: a, ioa: 4, kind: single}
`,
		want: []string{
			"t.yaml:6:10: id: duplicate point id \"p\" (first at line 4)",
			"t.yaml:7:10: id: \"p q\": use letters, digits, '.', '_' and '-', starting with a letter or digit",
		},
	},
	{
		name: "same address",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
  - {name: b, addresses: ["h:2"], ca: 1}
points:
  - {id: p1, link: a, ioa: 1, kind: single}
  - {id: p2, link: a, ioa: 1, kind: double}
  - {id: p3, link: b, ioa: 1, kind: single}
  - {id: p4, link: a, ca: 2, ioa: 1, kind: single}
  - {id: p5, link: a, ioa: 1, kind: single}
  - {id: p6, link: a, ca: 1, ioa: 1, kind: single}
`,
		want: []string{
			"t.yaml:9:28: ioa: point \"p5\" has the same address (link a, ca 1, ioa 1, single) as point \"p1\" (line 5)",
			"t.yaml:10:35: ioa: point \"p6\" has the same address (link a, ca 1, ioa 1, single) as point \"p1\" (line 5)",
		},
	},
	{
		name: "unknown link",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - {id: p, link: b, ioa: 1, kind: single}
simulators:
  - {link: c, listen: "h:1"}
`,
		want: []string{
			"t.yaml:4:19: link: no link named \"b\" (links: a)",
			"t.yaml:6:12: link: no link named \"c\" (links: a)",
		},
	},
	{
		name: "unknown kind",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - {id: p, link: a, ioa: 1, kind: dbl}
  - {id: q, link: a, ioa: 2, kind: 1}
  - {id: r, link: a, ioa: 3, kind: [single]}
`,
		want: []string{
			"t.yaml:4:36: kind: unknown kind \"dbl\" (want single, double, step, bitstring, normalized, scaled, float, counter)",
			"t.yaml:5:36: kind: unknown kind \"1\" (want single, double, step, bitstring, normalized, scaled, float, counter)",
			"t.yaml:6:36: kind: want a point kind (single, double, step, bitstring, normalized, scaled, float, counter), got a list",
		},
	},
	{
		name: "ioa and ca ranges",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - {id: p1, link: a, ioa: 0, kind: single}
  - {id: p2, link: a, ioa: 16777216, kind: single}
  - {id: p3, link: a, ioa: 16777215, kind: single, ca: 0}
  - {id: p4, link: a, ioa: 5, kind: single, ca: 65535}
  - {id: p5, link: a, ioa: 6, kind: single, control: {type: single, ioa: 0}}
  - {id: p6, link: a, ioa: 7, kind: single, control: {type: single, ioa: 16777216}}
`,
		want: []string{
			"t.yaml:4:28: ioa: 0 out of range 1..16777215",
			"t.yaml:5:28: ioa: 16777216 out of range 1..16777215",
			"t.yaml:6:56: ca: 0 out of range 1..65534",
			"t.yaml:7:49: ca: 65535 out of range 1..65534",
			"t.yaml:8:74: ioa: 0 out of range 1..16777215",
			"t.yaml:9:74: ioa: 16777216 out of range 1..16777215",
		},
	},
	{
		name: "control kinds",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - {id: s, link: a, ioa: 1, kind: single, control: {type: step}}
  - {id: d, link: a, ioa: 2, kind: double, control: {type: setpoint_float}}
  - {id: st, link: a, ioa: 3, kind: step, control: {type: double}}
  - {id: b, link: a, ioa: 4, kind: bitstring, control: {type: single}}
  - {id: n, link: a, ioa: 5, kind: normalized, control: {type: setpoint_scaled}}
  - {id: sc, link: a, ioa: 6, kind: scaled, control: {type: setpoint_normalized}}
  - {id: f, link: a, ioa: 7, kind: float, control: {type: step}}
  - {id: c, link: a, ioa: 8, kind: counter, control: {type: setpoint_float}}
  - {id: x, link: a, ioa: 9, kind: single, control: {type: pulse}}
  - {id: y, link: a, ioa: 10, kind: single, control: {}}
`,
		want: []string{
			"t.yaml:4:60: type: a step command cannot operate a single point (it operates step points)",
			"t.yaml:5:60: type: a setpoint_float command cannot operate a double point (it operates float points)",
			"t.yaml:6:59: type: a double command cannot operate a step point (it operates double and single points)",
			"t.yaml:7:63: type: a single command cannot operate a bitstring point (it operates single and double points)",
			"t.yaml:8:64: type: a setpoint_scaled command cannot operate a normalized point (it operates scaled points)",
			"t.yaml:9:61: type: a setpoint_normalized command cannot operate a scaled point (it operates normalized points)",
			"t.yaml:10:59: type: a step command cannot operate a float point (it operates step points)",
			"t.yaml:11:61: type: a setpoint_float command cannot operate a counter point (it operates float points)",
			"t.yaml:12:60: type: unknown control type \"pulse\" (want single, double, step, setpoint_normalized, setpoint_scaled, setpoint_float)",
			"t.yaml:13:54: type: required",
		},
	},
	{
		name: "control fields",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - id: p
    link: a
    ioa: 1
    kind: single
    control:
      type: single
      qu: 32
      sbo: false
      select_timeout: 5s
      response_timeout: 0s
      roles: [operator, god, operator]
  - id: q
    link: a
    ioa: 2
    kind: float
    control: {type: setpoint_float, qu: 128, roles: []}
  - id: r
    link: a
    ioa: 3
    kind: float
    control: {type: setpoint_float, qu: 127, ioa: 2}
`,
		want: []string{
			"t.yaml:10:11: qu: 32 out of range 0..31",
			"t.yaml:12:23: select_timeout: applies only with sbo: true",
			"t.yaml:13:25: response_timeout: must be more than 0",
			"t.yaml:14:25: roles[1]: unknown role \"god\" (want operator, engineer, admin)",
			"t.yaml:14:30: roles[2]: role \"operator\" listed twice",
			"t.yaml:19:41: qu: 128 out of range 0..127",
			"t.yaml:19:53: roles: empty: nobody could operate the point (set do_not_operate to forbid commands)",
			"t.yaml:24:51: ioa: the setpoint_float command at ioa 2 (link a, ca 1) already operates point \"q\" (line 15)",
		},
	},
	{
		name: "labels and scale",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - {id: s, link: a, ioa: 1, kind: single, labels: [a, b, c], scale: {factor: 2}}
  - {id: d, link: a, ioa: 2, kind: double, labels: [a, b, c]}
  - {id: f, link: a, ioa: 3, kind: float, labels: [a, b], scale: {factor: 0}}
  - {id: e, link: a, ioa: 4, kind: single, labels: [a, ""]}
`,
		want: []string{
			"t.yaml:4:52: labels: a single point takes 2 labels (for 0 and 1), got 3",
			"t.yaml:4:70: scale: a single point has no value to scale",
			"t.yaml:5:52: labels: a double point takes 2 labels (off, on) or 4 (intermediate, off, on, faulty), got 3",
			"t.yaml:6:51: labels: a float point takes no labels",
			"t.yaml:6:75: factor: must not be 0",
			"t.yaml:7:56: labels[1]: must not be empty",
		},
	},
	{
		name: "areas",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - {id: p1, link: a, ioa: 1, kind: single, area: /north}
  - {id: p2, link: a, ioa: 2, kind: single, area: north//f1}
  - {id: p3, link: a, ioa: 3, kind: single, area: ""}
`,
		want: []string{
			"t.yaml:4:51: area: \"/north\": want a slash path such as north/feeder1, without empty parts",
			"t.yaml:5:51: area: \"north//f1\": want a slash path such as north/feeder1, without empty parts",
			"t.yaml:6:51: area: must not be empty",
		},
	},
	{
		name: "interlocks",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - id: p
    link: a
    ioa: 1
    kind: double
    labels: [open, closed]
    control:
      type: double
      interlocks:
        - {point: nope, equals: 1}
        - {point: f, equals: 1}
        - {point: s, equals: maybe}
        - {point: s, equals: 2}
        - {point: p, equals: closed}
        - {equals: 1}
        - {point: s}
        - {point: s, equals: 1, when: x}
  - {id: f, link: a, ioa: 2, kind: float}
  - {id: s, link: a, ioa: 3, kind: single, labels: [off, on]}
`,
		want: []string{
			"t.yaml:12:19: point: no point with id \"nope\"",
			"t.yaml:13:19: point: point \"f\" is a float point; an interlock tests a single, double, step or bitstring point",
			"t.yaml:14:30: equals: \"maybe\" is not a state of point \"s\" (want 0..1 or off, on)",
			"t.yaml:15:30: equals: \"2\" is not a state of point \"s\" (want 0..1 or off, on)",
			"t.yaml:17:11: point: required",
			"t.yaml:18:11: equals: required",
			"t.yaml:19:33: unknown key \"when\" (known keys: point, equals, reason)",
		},
	},
	{
		name: "tls files",
		yaml: `http:
  tls: {cert: nope.pem}
links:
  - name: a
    addresses: ["h:1"]
    ca: 1
    tls:
      cert: missing/cert.pem
      key: /
      ca: nope-ca.pem
      pins: ["zz", "01:02"]
simulators:
  - link: a
    listen: "h:1"
    tls: {key: k.pem, ca: ca.pem}
`,
		want: []string{
			"t.yaml:2:8: key: required",
			"t.yaml:2:15: cert: file \"nope.pem\" does not exist",
			"t.yaml:8:13: cert: file \"missing/cert.pem\" does not exist",
			"t.yaml:9:12: key: \"/\" is a directory, want a file",
			"t.yaml:10:11: ca: file \"nope-ca.pem\" does not exist",
			"t.yaml:11:14: pins[0]: \"zz\" is not a SHA-256 fingerprint (want 64 hex digits, colons allowed)",
			"t.yaml:11:20: pins[1]: \"01:02\" is not a SHA-256 fingerprint (want 64 hex digits, colons allowed)",
			"t.yaml:15:10: cert: required",
			"t.yaml:15:16: key: file \"k.pem\" does not exist",
			"t.yaml:15:27: ca: file \"ca.pem\" does not exist",
		},
	},
	{
		name: "http listen",
		yaml: `http:
  listen: localhost
metrics:
  listen: "h:99999"
`,
		want: []string{
			"t.yaml:2:11: listen: \"localhost\": want host:port",
			"t.yaml:4:11: listen: \"h:99999\": port \"99999\" out of range 0..65535",
		},
	},
	{
		name: "http listen 2",
		yaml: `http:
  listen: ""
  session: {idle_timeout: 2h, absolute_timeout: 1h}
`,
		want: []string{
			"t.yaml:2:11: listen: must not be empty",
			"t.yaml:3:27: idle_timeout: 2h0m0s is longer than absolute_timeout (1h0m0s)",
		},
	},
	{
		name: "session",
		yaml: `http:
  session: {absolute_timeout: 10m}
`,
		want: []string{
			"t.yaml:2:31: absolute_timeout: 10m0s is shorter than idle_timeout (30m0s)",
		},
	},
	{
		name: "listen conflict",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
http: {listen: "127.0.0.1:2404"}
simulators:
  - {link: a, listen: "127.0.0.1:2404"}
  - {name: b, link: a, listen: "127.0.0.1:8080"}
  - {link: a, listen: ":0"}
  - {name: c, link: a, listen: ":0"}
`,
		want: []string{
			"t.yaml:5:23: listen: \"127.0.0.1:2404\" already used by http.listen (line 3)",
			"t.yaml:7:5: name: required: the default, the link's name \"a\", already names the simulator at line 5",
		},
	},
	{
		name: "simulators",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
simulators:
  - {link: a, listen: "h:1", rate: -1, select_timeout: 0s}
  - {link: a, listen: "h:2", rate: 100001, event_buffer: 4097}
  - {name: "", link: a, listen: "h:3"}
  - {name: x, link: a, listen: h}
`,
		want: []string{
			"t.yaml:4:36: rate: -1 out of range 0..100000",
			"t.yaml:4:56: select_timeout: must be more than 0",
			"t.yaml:5:5: name: required: the default, the link's name \"a\", already names the simulator at line 4",
			"t.yaml:5:36: rate: 100001 out of range 0..100000",
			"t.yaml:5:58: event_buffer: 4097 out of range 0..4096",
			"t.yaml:6:12: name: must not be empty",
			"t.yaml:7:32: listen: \"h\": want host:port",
		},
	},
	{
		name: "aliases and tags",
		yaml: `links:
  - &l {name: a, addresses: ["h:1"], ca: 1}
  - *l
  - *nope
data_dir: !foo x
`,
		want: []string{
			"t.yaml:2:15: name: duplicate link name \"a\" (first at line 2) (through the alias at line 3)",
			"t.yaml:2:30: addresses[0]: \"h:1\" already used by link \"a\" (line 2) (through the alias at line 3)",
			"t.yaml:4:5: alias *nope names no anchor defined before it",
			"t.yaml:5:11: tag \"!foo\" not supported (only the standard !! tags are)",
		},
	},
	{
		name: "merge keys",
		yaml: `links:
  - &base {name: a, addresses: ["h:1"], ca: 1, k: 12}
  - <<: *base
    name: b
    addresses: ["h:2"]
points:
  - id: p
    link: a
    ioa: 1
    kind: single
    control: &ctl {type: single, qu: 40}
  - id: q
    link: b
    ioa: 2
    kind: single
    control:
      <<: *ctl
      ioa: 5
  - id: r
    link: b
    ioa: 3
    kind: single
    control:
      <<: [*ctl, {sbo: false}]
      qu: 1
      select_timeout: 1s
`,
		want: []string{
			"t.yaml:11:38: qu: 40 out of range 0..31",
			"t.yaml:11:38: qu: 40 out of range 0..31 (through the merge key at line 17)",
			"t.yaml:26:23: select_timeout: applies only with sbo: true",
		},
	},
	{
		name: "null sections",
		yaml: `links:
  - name: a
    addresses: ["h:1"]
    ca: 1
    tls:
points:
  - {id: p, link: a, ioa: 1, kind: single, control: }
`,
		want: []string{
			"t.yaml:5:5: cert: required",
			"t.yaml:5:5: key: required",
			"t.yaml:5:5: ca: required",
			"t.yaml:7:44: type: required",
		},
	},
	{
		name: "several errors everywhere",
		yaml: `data_dir: ""
http:
  listen: localhost
  sesion: {idle_timeout: 1h}
links:
  - name: a
    addresses: ["1.2.3.4:2404"]
    ca: 70000
    k: twelve
    t2: 20s
  - name: a
    addresses: ["1.2.3.4:2404"]
    ca: 1
    time_zone: Mars/Base
points:
  - {id: p1, link: a, ioa: 0, kind: dbl}
  - {id: p1, link: zz, ioa: 5, kind: float, control: {type: single}}
simulators:
  - {link: b, listen: "127.0.0.1:9108", rate: fast}
metrics: {listen: "127.0.0.1:9108"}
`,
		want: []string{
			"t.yaml:1:11: data_dir: must not be empty",
			"t.yaml:3:11: listen: \"localhost\": want host:port",
			"t.yaml:4:3: unknown key \"sesion\" (did you mean \"session\"?)",
			"t.yaml:8:9: ca: 70000 out of range 1..65534",
			"t.yaml:9:8: k: want an integer, got string \"twelve\"",
			"t.yaml:10:9: t2: 20s must be less than t1 (15s)",
			"t.yaml:11:11: name: duplicate link name \"a\" (first at line 6)",
			"t.yaml:12:17: addresses[0]: \"1.2.3.4:2404\" already used by link \"a\" (line 7)",
			"t.yaml:14:16: time_zone: unknown time zone \"Mars/Base\" (want an IANA name such as UTC or Europe/Paris)",
			"t.yaml:16:28: ioa: 0 out of range 1..16777215",
			"t.yaml:16:37: kind: unknown kind \"dbl\" (want single, double, step, bitstring, normalized, scaled, float, counter)",
			"t.yaml:17:10: id: duplicate point id \"p1\" (first at line 16)",
			"t.yaml:17:20: link: no link named \"zz\" (links: a)",
			"t.yaml:17:61: type: a single command cannot operate a float point (it operates single and double points)",
			"t.yaml:19:12: link: no link named \"b\" (links: a)",
			"t.yaml:19:47: rate: want a number, got string \"fast\"",
			"t.yaml:20:19: listen: \"127.0.0.1:9108\" already used by simulators[0].listen (line 19)",
		},
	},
	{
		name: "keys without values",
		yaml: `links:
  - name:
    addresses:
    ca:
    k:
    t1:
points:
  - {id: p, link: a, ioa: , kind: }
`,
		want: []string{
			"t.yaml:2:5: name: must not be empty",
			"t.yaml:3:5: addresses: want at least one host:port",
			"t.yaml:4:5: ca: required",
			"t.yaml:8:19: link: no link named \"a\" (there are no links)",
			"t.yaml:8:22: ioa: required",
			"t.yaml:8:29: kind: required",
		},
	},
	{
		name: "alarms and history",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1, alarm: {priority: 5}}
alarms: {security_priority: 7, command_failure_priority: -1}
history: {retention: -1h}
points:
  - id: s
    link: a
    ioa: 1
    kind: single
    labels: [off, on]
    alarm:
      priority: 0
      states: [on, maybe, 1, 2]
      limits: {h: {value: 1}}
  - id: f
    link: a
    ioa: 2
    kind: float
    alarm:
      states: [1]
      message: x
      limits:
        hh: {value: 90}
        h: {value: 100, priority: 9}
        l: {priority: 2}
        ll: {value: 100}
        deadband: -1
        on_delay: 5
      quality: {priority: 6}
    history: {deadband: -2}
  - id: w
    link: a
    ioa: 3
    kind: bitstring
    labels: [x, y]
    alarm: {states: [y, 32, z, 1]}
    history: {}
  - id: e
    link: a
    ioa: 4
    kind: float
    alarm: {message: lonely}
  - id: c
    link: a
    ioa: 5
    kind: single
    control: {type: single, failure_alarm_priority: 5}
    alarm: {states: [], limits: {}}
  - id: d
    link: a
    ioa: 6
    kind: double
    labels: [open, closed]
    alarm: {states: [0, open, faulty, 3]}
`,
		want: []string{
			"t.yaml:2:60: priority: 5 out of range 1..4",
			"t.yaml:3:29: security_priority: 7 out of range 0..4",
			"t.yaml:3:58: command_failure_priority: -1 out of range 0..4",
			"t.yaml:4:22: retention: duration \"-1h\" is negative",
			"t.yaml:12:17: priority: 0 out of range 1..4",
			"t.yaml:13:20: states[1]: \"maybe\" is not a state of point \"s\" (want 0..1 or off, on)",
			"t.yaml:13:27: states[2]: \"1\" is the same state as \"on\"",
			"t.yaml:13:30: states[3]: \"2\" is not a state of point \"s\" (want 0..1 or off, on)",
			"t.yaml:14:15: limits: a single point takes no limits (limits apply to normalized, scaled and float points)",
			"t.yaml:20:15: states: a float point has no states (states apply to single, double, step and bitstring points)",
			"t.yaml:23:21: value: 90 is not above h (100): want ll < l < h < hh",
			"t.yaml:24:20: value: 100 is not above ll (100): want ll < l < h < hh",
			"t.yaml:24:35: priority: 9 out of range 1..4",
			"t.yaml:25:12: value: required",
			"t.yaml:27:19: deadband: -1, want 0 or more",
			"t.yaml:28:19: on_delay: \"5\" is not a duration (want a number with a unit: 500ms, 30s, 5m, 1h)",
			"t.yaml:29:27: priority: 6 out of range 1..4",
			"t.yaml:30:25: deadband: -2, want 0 or more",
			"t.yaml:36:25: states[1]: \"32\" is not a bit of point \"w\" (want 0..31 or x, y)",
			"t.yaml:36:29: states[2]: \"z\" is not a bit of point \"w\" (want 0..31 or x, y)",
			"t.yaml:36:32: states[3]: \"1\" is the same state as \"y\"",
			"t.yaml:37:14: history: a bitstring point has no history (history applies to normalized, scaled, float and counter points)",
			"t.yaml:42:12: alarm: sets no alarm (want states, limits or quality)",
			"t.yaml:47:53: failure_alarm_priority: 5 out of range 0..4",
			"t.yaml:48:21: states: want at least one state",
			"t.yaml:48:33: limits: a single point takes no limits (limits apply to normalized, scaled and float points)",
			"t.yaml:54:31: states[2]: \"faulty\" is not a state of point \"d\" (want 0..3 or open, closed)",
		},
	},
	{
		name: "alarms without alarm",
		yaml: `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - id: f
    link: a
    ioa: 1
    kind: float
    alarm:
      message: high
      limits: {}
      quality:
    history: {max_interval: 1}
  - {id: t, link: a, ioa: 2, kind: step, alarm: {states: [-65, 63, "-1"], limit: {}}}
  - {id: n, link: a, ioa: 3, kind: counter, history: {deadband: 5}, alarm: }
`,
		want: []string{
			"t.yaml:9:16: message: applies only with states",
			"t.yaml:10:15: limits: want at least one of hh, h, l, ll",
			"t.yaml:12:29: max_interval: \"1\" is not a duration (want a number with a unit: 500ms, 30s, 5m, 1h)",
			"t.yaml:13:59: states[0]: \"-65\" is not a state of point \"t\" (want -64..63)",
			"t.yaml:13:75: unknown key \"limit\" (did you mean \"limits\"?)",
			"t.yaml:14:69: alarm: sets no alarm (want states, limits or quality)",
		},
	},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tt.yaml))
			if c != nil {
				t.Errorf("Parse returned a configuration with errors")
			}
			got := messages(t, err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// messages returns the lines of err, which must be Errors.
func messages(t *testing.T, err error) []string {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T), want Errors", err, err)
	}
	if len(errs) == 0 {
		t.Fatal("empty Errors")
	}
	if got, want := errs.Error(), strings.Join(lines(errs), "\n"); got != want {
		t.Errorf("Errors.Error() = %q, want one line per error %q", got, want)
	}
	return lines(errs)
}

func lines(errs Errors) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}
