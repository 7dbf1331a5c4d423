package build

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"unknown instruction", "FROM a\nFOO bar\n", "dockerfile parse error on line 2: unknown instruction: FOO"},
		{"empty", "# nothing\n", "file with no instructions"},
		{"no FROM", "ARG A=1\n", "no FROM instruction"},
		{"command before FROM", "RUN true\n", "no build stage in current context"},
		{"duplicate stage", "FROM a AS x\nFROM b AS x\n", `duplicate stage name "x"`},
		{"bad stage name", "FROM a AS 1abc\n", "invalid name for build stage"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseDockerfile(c.text)
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v, want one with %q matching ErrInvalid", err, c.want)
			}
		})
	}
}

// expandOne parses a one-stage Dockerfile and expands its first command with env.
func expandOne(t *testing.T, line string, env []string) instructions.Command {
	t.Helper()
	df, err := parseDockerfile("FROM scratch\n" + line + "\n")
	if err != nil {
		t.Fatal(err)
	}
	cmd := df.stages[0].Commands[0]
	if err := expandCommand(shell.NewLex(df.escape), env, cmd); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestExpansion(t *testing.T) {
	env := []string{"abc=hello", "V=3.20", "PORTS=80 443/udp"}
	t.Run("ENV keeps the values from before the instruction and strips quotes", func(t *testing.T) {
		c := expandOne(t, `ENV abc=bye def=$abc B="two words"`, env).(*instructions.EnvCommand)
		got := fmt.Sprint(c.Env)
		if got != "[{abc bye false} {def hello false} {B two words false}]" {
			t.Errorf("got %s", got)
		}
	})
	t.Run("COPY flags and paths", func(t *testing.T) {
		c := expandOne(t, `COPY --chown=${U:-1000} src/ /app/${V}/`, env).(*instructions.CopyCommand)
		if c.Chown != "1000" || c.DestPath != "/app/3.20/" {
			t.Errorf("chown %q dest %q", c.Chown, c.DestPath)
		}
	})
	t.Run("single quotes and escapes stay literal", func(t *testing.T) {
		c := expandOne(t, `LABEL a='$abc' b=\$abc "c d"=${abc}_x`, env).(*instructions.LabelCommand)
		got := fmt.Sprint(c.Labels)
		if got != "[{a $abc false} {b $abc false} {c d hello_x false}]" {
			t.Errorf("got %s", got)
		}
	})
	t.Run("EXPOSE splits words", func(t *testing.T) {
		c := expandOne(t, `EXPOSE $PORTS 8000-8001`, env).(*instructions.ExposeCommand)
		ports, err := exposedPorts(c.Ports)
		if err != nil || !reflect.DeepEqual(ports, []string{"80/tcp", "443/udp", "8000/tcp", "8001/tcp"}) {
			t.Errorf("ports %v %v", ports, err)
		}
	})
	t.Run("RUN is left to the shell", func(t *testing.T) {
		c := expandOne(t, `RUN echo $abc`, env).(*instructions.RunCommand)
		if c.CmdLine[0] != "echo $abc" {
			t.Errorf("got %q", c.CmdLine)
		}
	})
	t.Run("required variable", func(t *testing.T) {
		df, _ := parseDockerfile("FROM scratch\nWORKDIR ${U:?must be set}\n")
		err := expandCommand(shell.NewLex('\\'), nil, df.stages[0].Commands[0])
		if err == nil || !strings.Contains(err.Error(), "must be set") {
			t.Errorf("error %v", err)
		}
	})
}

func TestArgScope(t *testing.T) {
	var a argScope
	v3, v4 := "3", "4"
	a.declare("V", &v3)
	a.declare("UNSET", nil)
	a.declare("W", &v4)
	if got := a.visible([]string{"W=env wins"}); !reflect.DeepEqual(got, []string{"V=3"}) {
		t.Errorf("visible %v", got)
	}
	if got := strings.Join(runPrefix([]string{"W=4", "V=3"}), " "); got != "|2 V=3 W=4" {
		t.Errorf("prefix %q", got)
	}
	if runPrefix(nil) != nil {
		t.Error("no args must give no prefix")
	}
}

func TestNeededStages(t *testing.T) {
	df, err := parseDockerfile(`FROM scratch AS unused
FROM scratch AS tools
FROM tools AS builder
FROM scratch AS other
COPY --from=builder /x /x
COPY --from=0 /y /y
FROM scratch
COPY --from=other /x /x
`)
	if err != nil {
		t.Fatal(err)
	}
	bases := []string{"scratch", "scratch", "tools", "scratch", "scratch"}
	got := neededStages(df.stages, 4, func(i int) string { return bases[i] })
	if !reflect.DeepEqual(got, []int{0, 1, 2, 3, 4}) {
		t.Errorf("target 4: %v", got)
	}
	got = neededStages(df.stages, 2, func(i int) string { return bases[i] })
	if !reflect.DeepEqual(got, []int{1, 2}) {
		t.Errorf("target 2: %v", got)
	}
}

func TestHistoryStrings(t *testing.T) {
	st := scratchState()
	if got := nop(st, "ENV A=b"); got != "/bin/sh -c #(nop)  ENV A=b" {
		t.Errorf("nop %q", got)
	}
	if got := nopString(st, "WORKDIR /app"); got != "/bin/sh -c #(nop) WORKDIR /app" {
		t.Errorf("nopString %q", got)
	}
	st.config.Config.Shell = []string{"/bin/bash", "-c"}
	if got := nop(st, "USER x"); got != "/bin/bash -c #(nop)  USER x" {
		t.Errorf("nop with SHELL %q", got)
	}
	df, err := parseDockerfile("FROM scratch\nHEALTHCHECK --interval=5s CMD true\nCMD [\"node\", \"src/index.js\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	h := df.stages[0].Commands[0].(*instructions.HealthCheckCommand)
	if got := "HEALTHCHECK " + healthString(h.Health); got != `HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" "0s" '\x00'}` {
		t.Errorf("healthcheck %s", got)
	}
	c := df.stages[0].Commands[1].(*instructions.CmdCommand)
	if got := fmt.Sprintf("CMD %q", commandLine(scratchState(), c.ShellDependantCmdLine)); got != `CMD ["node" "src/index.js"]` {
		t.Errorf("cmd %s", got)
	}
	run, err := parseDockerfile("FROM scratch\nRUN apk add x\n")
	if err != nil {
		t.Fatal(err)
	}
	args, err := runArgs(scratchState(), run.stages[0].Commands[0].(*instructions.RunCommand))
	if err != nil || strings.Join(args, " ") != "/bin/sh -c apk add x" {
		t.Errorf("run %q %v", args, err)
	}
}

func TestRunHeredoc(t *testing.T) {
	df, err := parseDockerfile("FROM scratch\nRUN <<EOF\necho a\necho b\nEOF\n")
	if err != nil {
		t.Fatal(err)
	}
	args, err := runArgs(scratchState(), df.stages[0].Commands[0].(*instructions.RunCommand))
	if err != nil || !reflect.DeepEqual(args, []string{"/bin/sh", "-c", "echo a\necho b\n"}) {
		t.Errorf("args %q %v", args, err)
	}
}
