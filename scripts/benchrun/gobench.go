package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// goBenchmarks runs the Go benchmarks behind the table's store figures
// (go test -bench, in the module's root, which benchrun runs from) and
// returns their rows.
func goBenchmarks(dispatchBenchtime string) []row {
	dispatch, err := goBench("./e2e", "^BenchmarkDispatch$", dispatchBenchtime)
	var rows []row
	if err != nil {
		rows = append(rows, row{"dispatch, SQLite, sender that does nothing", "failed: " + err.Error(), ">= 20,000 msg/s"})
	} else {
		rows = append(rows, row{"dispatch, SQLite, sender that does nothing (BenchmarkDispatch)",
			fmt.Sprintf("%.0f msg/s", dispatch["BenchmarkDispatch"]["msgs/s"]), ">= 20,000 msg/s"})
	}
	claim, err := goBench("./outreach/sqlitestore", "^BenchmarkClaimCommit$", "")
	if err != nil {
		rows = append(rows, row{"store claim + commit", "failed: " + err.Error(), ">= 40,000 msg/s"})
	} else {
		rows = append(rows, row{"store claim + commit (BenchmarkClaimCommit), batch 500",
			fmt.Sprintf("%.0f msg/s (synchronous FULL), %.0f (NORMAL)",
				claim["BenchmarkClaimCommit/sync=FULL/batch=500"]["msgs/s"], claim["BenchmarkClaimCommit/sync=NORMAL/batch=500"]["msgs/s"]),
			">= 40,000 msg/s"})
	}
	in, err := goBench("./e2e", "^BenchmarkHandleInbound$", "3000x")
	if err != nil {
		rows = append(rows, row{"HandleInbound on SQLite", "failed: " + err.Error(), "p99 < 1 ms"})
	} else {
		f, n := in["BenchmarkHandleInbound/sync=FULL"], in["BenchmarkHandleInbound/sync=NORMAL"]
		rows = append(rows, row{"HandleInbound on SQLite (BenchmarkHandleInbound, 3,000 replies)",
			fmt.Sprintf("FULL: p50 %.0f µs, p99 %.0f µs; NORMAL: p50 %.0f µs, p99 %.0f µs", f["p50-µs"], f["p99-µs"], n["p50-µs"], n["p99-µs"]),
			"p99 < 1 ms"})
	}
	return rows
}

// goBench runs the benchmarks of pkg that pattern matches, with
// benchtime unless empty, and returns each one's reported metrics by
// unit ("msgs/s", "p99-µs"...), keyed by its name without the -N suffix
// of GOMAXPROCS.
func goBench(pkg, pattern, benchtime string) (map[string]map[string]float64, error) {
	args := []string{"test", "-run", "^$", "-bench", pattern}
	if benchtime != "" {
		args = append(args, "-benchtime", benchtime)
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return parseBench(out), nil
}

// parseBench reads the result lines of go test -bench: a name, the
// iterations, then value and unit pairs.
func parseBench(out []byte) map[string]map[string]float64 {
	res := map[string]map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				m[f[i+1]] = v
			}
		}
		res[name] = m
	}
	return res
}
