// Package metadata reads what a checked-out repository says about itself:
// where its Dockerfile and build context are, which port it serves, and the
// key:value tags that make it findable (language, framework, runtime,
// license, topics...).
//
// Extract works on a directory that already holds a checkout; cloning is done
// elsewhere. Every file is read through an os.Root, so symbolic links and ".."
// can never reach outside the repository, and every read is capped in size.
//
// Sources, in the order they win when they disagree:
//
//   - tags.yaml (author): name, description, homepage, tags, port,
//     dockerfile, context, resources.
//   - README front matter in the Hugging Face Spaces form (author): title,
//     sdk, app_port, tags, license, short_description.
//   - package.json, Cargo.toml (author: name, description, keywords, license;
//     auto: framework), go.mod, requirements.txt and pyproject.toml (auto:
//     framework).
//   - File extensions (auto: lang), LICENSE files (auto: license), the
//     Dockerfile parsed with BuildKit's parser (auto: runtime; port from
//     EXPOSE).
//
// Errors that describe the repository (no Dockerfile, an unparsable one, a
// malformed tags.yaml, a path that escapes) are *Error values and are
// permanent: retrying the same commit cannot help. IsPermanent tells them
// apart from I/O failures of the machine and from context cancellation.
package metadata
