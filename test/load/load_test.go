package main

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestParseStatCPU(t *testing.T) {
	cases := map[string]struct {
		stat string
		want time.Duration
		err  bool
	}{
		"plain": {stat: "42 (privgate) S 1 42 42 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 9 0 100 0 0", want: 1750 * time.Millisecond},
		// A command name may hold spaces and parentheses; fields are counted from the last ')'.
		"odd name":   {stat: "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 5 0 0", want: 70 * time.Millisecond},
		"truncated":  {stat: "7 (x) R 1 2 3", err: true},
		"no comm":    {stat: "garbage", err: true},
		"not number": {stat: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 x 4 0", err: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseStatCPU(c.stat)
			if (err != nil) != c.err || got != c.want {
				t.Fatalf("parseStatCPU = %v, %v; want %v, error %v", got, err, c.want, c.err)
			}
		})
	}
}

func TestParseHWM(t *testing.T) {
	got, err := parseHWM("Name:\tprivgate\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40000 kB\n")
	if err != nil || got != 50<<20 {
		t.Fatalf("parseHWM = %d, %v; want %d", got, err, 50<<20)
	}
	if _, err := parseHWM("Name:\tx\n"); err == nil {
		t.Fatal("parseHWM without VmHWM: want an error")
	}
}

func TestJudgeAdmission(t *testing.T) {
	judge := judgeAdmission(map[types.UID]bool{admitUID: true, denyUID: false})
	cases := map[string]struct {
		body string
		want outcome
	}{
		"admitted":           {`{"response":{"uid":"` + string(admitUID) + `","allowed":true}}`, right},
		"denied":             {`{"response":{"uid":"` + string(denyUID) + `","allowed":false,"status":{"code":403}}}`, right},
		"allowed by mistake": {`{"response":{"uid":"` + string(denyUID) + `","allowed":true}}`, allowedByMistake},
		"refused by mistake": {`{"response":{"uid":"` + string(admitUID) + `","allowed":false}}`, refusedByMistake},
		"another request":    {`{"response":{"uid":"other","allowed":true}}`, malformed},
		"no response":        {`{"kind":"AdmissionReview"}`, malformed},
		"not JSON":           {`ok`, malformed},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := judge([]byte(c.body)); got != c.want {
				t.Fatalf("judge(%s) = %d, want %d", c.body, got, c.want)
			}
		})
	}
}

func TestJudgeOPA(t *testing.T) {
	cases := map[string]struct {
		body string
		want outcome
	}{
		"empty deny":     {`{"result":[]}`, right},
		"violations":     {`{"result":[{"id":"annotation-risky"}]}`, refusedByMistake},
		"undefined deny": {`{}`, malformed},
		"not JSON":       {`<html>`, malformed},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := judgeOPA([]byte(c.body)); got != c.want {
				t.Fatalf("judgeOPA(%s) = %d, want %d", c.body, got, c.want)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
