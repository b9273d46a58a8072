// The "How it is built" panel of an app's page: the Dockerfile and context
// ingestion chose and why, the stage builds stop at (a compose service's
// build.target, or the one set with appstore edit --target), the build
// arguments, the port and where it came from, and the data directory with
// the space its volume takes (as `appstore show` prints them).

import {api} from './api.js';
import {h, replace} from './dom.js';

// PORT_SOURCES says where a port came from (catalog.PortSourceText).
const PORT_SOURCES = {
  'tags.yaml': 'port in tags.yaml',
  'readme': 'app_port in the README front matter',
  'expose': 'EXPOSE in the Dockerfile',
  'compose': 'the compose service’s ports',
  'cmd': 'the Dockerfile’s CMD/ENTRYPOINT',
  'env': 'ENV in the Dockerfile',
  'docker-run': 'docker run -p in the README',
  'code': 'the program’s code',
  'framework': 'the server’s default port',
  'hf-default': 'the Hugging Face Spaces default',
  'manual': 'set by hand with appstore edit --port',
};

// formatSize prints bytes as catalog.FormatSize does: "64 MiB", "1.5 KiB", "12 B".
export function formatSize(n) {
  for (const [name, size] of [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]]) {
    if (n >= size) {
      const v = n / size;
      return Number.isInteger(v) ? `${v} ${name}` : `${v.toFixed(1)} ${name}`;
    }
  }
  return `${n} B`;
}

export class BuildFacts {
  constructor(slug) {
    this.slug = slug;
    this.list = h('dl', {class: 'facts', 'data-role': 'build-facts'});
    this.el = h('section', {class: 'panel', 'aria-labelledby': 'build-facts-title'},
      h('h2', {id: 'build-facts-title'}, 'How it is built'), this.list);
    this.repo = null;
    this.volume = undefined; // undefined: not asked; null: none yet; false: unknown
  }

  // set shows the repository's build choice, port and storage; the
  // storage's use is asked for when the app declares storage.
  set(r) {
    const hadStorage = this.repo && this.repo.metadata && this.repo.metadata.storage;
    this.repo = r;
    const storage = r.metadata && r.metadata.storage;
    if (storage && (!hadStorage || this.volume === undefined)) this.loadVolume();
    this.render();
  }

  // volumeChanged asks again for the volume's use (a launch made it, or
  // ended writing to it), when the app declares storage.
  volumeChanged() {
    if (this.repo && this.repo.metadata && this.repo.metadata.storage) this.loadVolume();
  }

  async loadVolume() {
    try {
      const list = await api('GET', '/api/v1/volumes', {query: {repository: this.slug}});
      this.volume = (list.volumes || []).find((v) => v.repository === this.slug && !v.orphaned) || null;
    } catch {
      // A daemon without the runner role cannot say.
      this.volume = false;
    }
    this.render();
  }

  render() {
    const r = this.repo;
    if (!r) return;
    const meta = r.metadata || {};
    const b = meta.build;
    const manual = (f) => (r.manual_fields || []).includes(f);
    const rows = [];
    const row = (key, label, ...value) => rows.push(h('div', {class: 'fact', dataset: {fact: key}}, h('dt', {}, label), h('dd', {}, ...value)));
    if (r.dockerfile_path) {
      row('dockerfile', 'Dockerfile', h('code', {}, r.dockerfile_path),
        r.context_path && r.context_path !== '.' ? [' (context ', h('code', {}, r.context_path), ')'] : ' (context: the repository root)');
      if (b && b.reason) row('reason', 'Chosen because', b.reason);
      row('stage', 'Stage', b && b.target ? [h('code', {}, b.target), manual('target') ? ' (set by hand)' : ''] : 'the final stage');
      const args = b && b.args ? Object.entries(b.args) : [];
      if (args.length) row('args', 'Build arguments', args.map(([k, v], i) => [i ? ', ' : '', h('code', {}, `${k}=${v}`)]));
    } else {
      row('dockerfile', 'Dockerfile', r.ingest_status === 'failed' ? 'none usable (see the error above)' : 'not read yet');
    }
    if (r.app_port) {
      row('port', 'Port', h('code', {}, String(r.app_port)), r.port_source ? ` (from ${PORT_SOURCES[r.port_source] || r.port_source})` : '');
    }
    if (meta.storage) {
      const s = meta.storage;
      row('storage', 'Data directory', h('code', {}, s.path), s.size_bytes ? `, ${formatSize(s.size_bytes)}` : '', ' (kept in a volume of its own)');
      row('storage-used', 'Storage used', this.usedText(s));
    }
    replace(this.list, rows);
  }

  usedText(s) {
    const v = this.volume;
    if (v === undefined) return 'asking…';
    if (v === false) return 'unknown (this appstored has no runner)';
    if (v === null) return 'nothing yet: the volume is made at the first launch';
    if (v.used_bytes < 0) return 'unknown (the engine did not say)';
    const size = v.size_limit_bytes || s.size_bytes;
    const text = size ? `${formatSize(v.used_bytes)} of ${formatSize(size)}` : formatSize(v.used_bytes);
    if (size && v.used_bytes > size) {
      return [text, h('span', {class: 'over'}, ` — over its size: its next launch or wake is refused; free space with appstore volume rm ${this.slug}, or raise size under storage: in its tags.yaml`)];
    }
    return text;
  }
}
