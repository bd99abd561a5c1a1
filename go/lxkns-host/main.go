// Command lxkns-host starts a mntnssandbox sleeper the way lxkns' mountineer does (its
// pause_process.go): exec.Command, the sleepy_* variables appended to os.Environ(), stdout
// through a pipe read for the first line, stderr collected, Kill and Wait at the end. The
// sleeper's failure comes back as lxkns returns it: "pause process failure: <stderr>".
//
// Standard library only (no module proxy is reachable in CI). Used by tests/lxkns.rs.
//
//	lxkns-host -sleeper PATH -mntns REF [-userns REF] [-read FILE] [-stay DURATION] [-match REGEXP]
//
// On success it prints "OK pid=<pid>", then with -read the file's content read through
// /proc/<pid>/root, then with -stay "alive after <duration>" if the sleeper is still there,
// then "killed: <Wait's error>" and exits 0. On failure it prints "error: <error>" (and with
// -match, "matches: <bool>" for the error against the regexp) and exits 1.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

type pauser struct {
	cmd    *exec.Cmd
	waited chan error
}

// start mirrors lxkns' newPauseProcessWithBinary: it returns once the sleeper said OK, or
// failed.
func start(binary, mntnsref, usernsref string) (*pauser, error) {
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), "sleepy_mntns="+mntnsref)
	if usernsref != "" {
		cmd.Env = append(cmd.Env, "sleepy_userns="+usernsref)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("failed to prepare to start pause process, reason: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start pause process, reason: %w", err)
	}
	ok := make(chan bool, 1)
	waited := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != io.EOF {
			ok <- err == nil && line == "OK\n"
		}
	}()
	go func() {
		waited <- cmd.Wait()
	}()
	select {
	case good := <-ok:
		if !good {
			_ = cmd.Process.Kill()
			return nil, errors.New("error: unexpected pause process output")
		}
	case err := <-waited:
		if message := stderr.String(); message != "" {
			return nil, fmt.Errorf("pause process failure: %s", message)
		}
		if err != nil {
			return nil, err
		}
		return nil, errors.New("premature pause process termination")
	}
	return &pauser{cmd: cmd, waited: waited}, nil
}

func main() {
	sleeper := flag.String("sleeper", "", "the mntnssandbox binary")
	mntns := flag.String("mntns", "", "sleepy_mntns")
	userns := flag.String("userns", "", "sleepy_userns")
	read := flag.String("read", "", "a file to read through /proc/<pid>/root")
	stay := flag.Duration("stay", 0, "how long the sleeper must stay after OK")
	match := flag.String("match", "", "a regexp the error must match")
	flag.Parse()

	p, err := start(*sleeper, *mntns, *userns)
	if err != nil {
		fmt.Printf("error: %v\n", err)
		if *match != "" {
			fmt.Printf("matches: %v\n", regexp.MustCompile(*match).MatchString(err.Error()))
		}
		os.Exit(1)
	}
	pid := p.cmd.Process.Pid
	fmt.Printf("OK pid=%d\n", pid)
	status := 0
	if *read != "" {
		content, err := os.ReadFile(filepath.Join(fmt.Sprintf("/proc/%d/root", pid), *read))
		if err != nil {
			fmt.Printf("read error: %v\n", err)
			status = 1
		} else {
			fmt.Printf("content: %q\n", content)
		}
	}
	if *stay > 0 {
		// Watching for something that must not happen: the sleeper ending within the
		// duration (bounded by it).
		select {
		case err := <-p.waited:
			fmt.Printf("exited within %v: %v\n", *stay, err)
			os.Exit(1)
		case <-time.After(*stay):
			fmt.Printf("alive after %v\n", *stay)
		}
	}
	_ = p.cmd.Process.Kill()
	select {
	case err := <-p.waited:
		fmt.Printf("killed: %v\n", err)
	case <-time.After(5 * time.Second):
		fmt.Println("not reaped within 5s of SIGKILL")
		status = 1
	}
	os.Exit(status)
}
