package jsclient

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestNpmPack runs `npm pack --dry-run` on the package: it must build, with
// the metadata a registry needs and exactly the files users get. Without
// npm it skips (fails under CI=true).
func TestNpmPack(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but npm is not installed")
		}
		t.Skip("npm is not installed (apt-get install npm): the package check needs it")
	}
	var meta struct {
		Name, Version, License, Type, Main, Types string
		Repository                                struct{ Type, URL, Directory string }
		PublishConfig                             struct{ Access string }
	}
	b, err := os.ReadFile("package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Name != "@tablecast/client" || meta.Version == "" || meta.License != "MIT" || meta.Type != "module" ||
		meta.Repository.URL == "" || meta.Repository.Directory != "clients/js" || meta.PublishConfig.Access != "public" {
		t.Fatalf("package.json lacks what publishing needs: %+v", meta)
	}
	cmd := exec.Command(npm, "pack", "--dry-run", "--json", "--ignore-scripts")
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_cache="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("npm pack --dry-run: %v\n%s", err, out)
	}
	var packs []struct {
		Name, Version string
		Files         []struct{ Path string }
	}
	if err := json.Unmarshal(out, &packs); err != nil || len(packs) != 1 {
		t.Fatalf("npm pack output: %v\n%s", err, out)
	}
	var files []string
	for _, f := range packs[0].Files {
		files = append(files, f.Path)
	}
	slices.Sort(files)
	want := []string{"LICENSE", "README.md", "package.json", "src/tablecast.d.ts", "src/tablecast.js"}
	parts, _ := fs.Glob(Parts(), "*.js")
	for _, p := range parts {
		want = append(want, "src/tablecast/"+p)
	}
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Fatalf("the package holds %v, want %v", files, want)
	}
	readme, _ := os.ReadFile("README.md")
	if !strings.Contains(string(readme), "{ since: { offset, epoch") {
		t.Fatal("the README shows no resume example (since)")
	}
	lic, _ := os.ReadFile("LICENSE")
	root, _ := os.ReadFile("../../LICENSE")
	if len(lic) == 0 || string(lic) != string(root) {
		t.Fatal("clients/js/LICENSE differs from the repository's LICENSE")
	}
}
