// Package metadata reads what a checked-out repository says about itself:
// the card of the app (name, description, emoji), which Dockerfile builds
// it and with which context, the port it serves and where that was found,
// and the key:value tags that make it findable (language, framework,
// runtime, license, topics...).
//
// Extract works on a directory that already holds a checkout; cloning is done
// elsewhere. Every file is read through an os.Root, so symbolic links and ".."
// can never reach outside the repository, and every read is capped in size.
//
// Sources, strongest first (Extract's documentation has the chain of each
// field; docs/architecture.md, "The app card", the whole of the rules):
//
//   - tags.yaml (author): name, emoji, description, homepage, tags, port,
//     dockerfile, context, resources.
//   - README front matter in the Hugging Face Spaces form, fenced by ---
//     or not (author): title, emoji, sdk, app_port, tags, license,
//     short_description, colours, models, datasets.
//   - The README itself, read with goldmark: its first level-one heading
//     and its first paragraph of prose.
//   - Package manifests of the build context, the root and the usual app
//     folders: package.json, pyproject.toml, Cargo.toml, composer.json
//     (names, descriptions, keywords, licenses), and with go.mod,
//     requirements*.txt, Pipfile, Gemfile, pom.xml and build.gradle, the
//     frameworks (auto). UTF-16 manifests are decoded.
//   - Compose files: the application service picks the Dockerfile, its
//     context and its port.
//   - The Dockerfile, parsed with BuildKit's parser: EXPOSE, CMD and
//     ENTRYPOINT, ENV, the base image (auto: runtime), the sources COPY
//     reads (a leftover template copies files the repository lacks).
//   - File extensions (auto: lang), LICENSE files (auto: license).
//
// Errors that describe the repository (no Dockerfile, an unparsable one, a
// malformed tags.yaml, a path that escapes) are *Error values and are
// permanent: retrying the same commit cannot help. IsPermanent tells them
// apart from I/O failures of the machine and from context cancellation.
// Without a Dockerfile, Extract still returns the card with its error.
package metadata
