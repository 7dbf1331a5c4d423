package compose

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

// BenchmarkLoad measures loading a ten-service project with dependencies, env files and volumes:
// the work every berth command does before anything else.
func BenchmarkLoad(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("services:\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&sb, "  s%d:\n    image: busybox:${TAG:-1}\n    environment: {N: \"%d\"}\n    env_file: [{path: app.env, required: false}]\n    volumes: [data:/data, ./src:/src]\n    ports: [\"%d:80\"]\n", i, i, 8000+i)
		if i > 0 {
			fmt.Fprintf(&sb, "    depends_on: [s%d]\n", i-1)
		}
	}
	sb.WriteString("volumes:\n  data: {}\n")
	dir := b.TempDir()
	if err := os.WriteFile(dir+"/compose.yaml", []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	o := Options{ProjectDir: dir, ProjectName: "bench", Environ: []string{"PWD=" + dir}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
}
