package groups

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// ReadFile reads a groups file: one group a line, blank lines and '#' comments ignored. With
// wantPath, every entry must be a full path ("/developers"); otherwise a bare name ("SRE"). The
// error names the file and line of the first bad entry.
func ReadFile(path string, wantPath bool) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		switch isPath := strings.HasPrefix(text, "/"); {
		case wantPath && !isPath:
			return nil, fmt.Errorf("%s:%d: %q is not a full group path (claimFormat path): write /%s", path, line, text, text)
		case !wantPath && isPath:
			return nil, fmt.Errorf("%s:%d: %q is a path, but claimFormat is name: write %s", path, line, text, text[strings.LastIndex(text, "/")+1:])
		}
		names = append(names, text)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return names, nil
}
