// SPDX-License-Identifier: GPL-2.0-or-later
// Test reader: prometheus/procfs's GetRaplZones, the RAPL reader inside node_exporter and
// Kepler, run on a sysfs root (built against Debian's golang-github-prometheus-procfs-dev).
//
//	procfs-rapl SYSFS SECONDS
//
// Lists the zones under SYSFS/class/powercap, reads every energy_uj, waits SECONDS, reads
// them again, and prints one JSON object per zone: its name and index as procfs splits them,
// path, max_energy_range_uj, both readings, the energy between them (a decrease is a wrap
// at max_energy_range_uj, as Kepler computes it) and the watts over the wait.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/procfs/sysfs"
)

type zoneReport struct {
	Name   string  `json:"name"`
	Index  int     `json:"index"`
	Path   string  `json:"path"`
	Max    uint64  `json:"max"`
	First  uint64  `json:"first"`
	Second uint64  `json:"second"`
	Joules float64 `json:"joules"`
	Watts  float64 `json:"watts"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "procfs-rapl: "+format+"\n", args...)
	os.Exit(1)
}

func readAll(zones []sysfs.RaplZone) []uint64 {
	values := make([]uint64, len(zones))
	for i, zone := range zones {
		value, err := zone.GetEnergyMicrojoules()
		if err != nil {
			fail("%s: %v", zone.Path, err)
		}
		values[i] = value
	}
	return values
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: procfs-rapl SYSFS SECONDS")
	}
	seconds, err := strconv.ParseFloat(os.Args[2], 64)
	if err != nil {
		fail("bad SECONDS: %v", err)
	}
	fs, err := sysfs.NewFS(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	zones, err := sysfs.GetRaplZones(fs)
	if err != nil {
		fail("GetRaplZones: %v", err)
	}
	if len(zones) == 0 {
		fail("GetRaplZones found no zone")
	}
	started := time.Now()
	first := readAll(zones)
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	second := readAll(zones)
	elapsed := time.Since(started).Seconds()
	for i, zone := range zones {
		delta := second[i] - first[i]
		if second[i] < first[i] {
			delta = zone.MaxMicrojoules - first[i] + second[i]
		}
		report := zoneReport{zone.Name, zone.Index, zone.Path, zone.MaxMicrojoules, first[i], second[i],
			float64(delta) / 1e6, float64(delta) / 1e6 / elapsed}
		line, _ := json.Marshal(report)
		fmt.Println(string(line))
	}
}
