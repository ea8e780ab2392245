import { escapeRegExp } from '../npm/usage.js';
import { normalisePythonName } from './names.js';

/**
 * Distributions whose top-level import name differs from the distribution name in a way the
 * usual rule (PEP 503 name with `-` → `_`) does not give. Taken from each project's documented
 * import (PyPI project pages): `import yaml` for PyYAML, `import PIL` for Pillow, …
 */
const IMPORT_NAMES: Readonly<Record<string, readonly string[]>> = {
  pyyaml: ['yaml'],
  pillow: ['PIL'],
  beautifulsoup4: ['bs4'],
  'scikit-learn': ['sklearn'],
  'python-dateutil': ['dateutil'],
  pyjwt: ['jwt'],
  'psycopg2-binary': ['psycopg2'],
  'opencv-python': ['cv2'],
  'opencv-python-headless': ['cv2'],
  protobuf: ['google.protobuf'],
  'python-dotenv': ['dotenv'],
  attrs: ['attr', 'attrs'],
  pycryptodome: ['Crypto'],
  pycryptodomex: ['Cryptodome'],
  pyopenssl: ['OpenSSL'],
  'python-jose': ['jose'],
  'djangorestframework': ['rest_framework'],
  'django-cors-headers': ['corsheaders'],
  'python-multipart': ['multipart'],
  'aiohttp-session': ['aiohttp_session'],
  'aiohttp-jinja2': ['aiohttp_jinja2'],
  setuptools: ['setuptools', 'pkg_resources'],
  'msgpack-python': ['msgpack'],
  'typing-extensions': ['typing_extensions'],
};

/** Top-level module names distribution `name` is imported by (see {@link IMPORT_NAMES}). */
export function pythonImportNames(name: string): string[] {
  const normalised = normalisePythonName(name);
  return [...(IMPORT_NAMES[normalised] ?? [normalised.replace(/-/g, '_')])];
}

/**
 * Source lines that import distribution `name` (Python reference §7.11 "The import statement"):
 * `import x`, `import x.y`, `import a, x as b`, `from x import y`, `from x.y import z`, for each
 * import name of {@link pythonImportNames}.
 */
export function pythonUsagePatterns(name: string): RegExp[] {
  return pythonImportNames(name).map((module) => {
    const m = escapeRegExp(module);
    return new RegExp(`^[ \\t]*(?:import[ \\t]+(?:[\\w.]+[ \\t]*(?:as[ \\t]+\\w+)?[ \\t]*,[ \\t]*)*${m}(?:\\.[\\w.]+)?\\b|from[ \\t]+${m}(?:\\.[\\w.]+)?[ \\t]+import\\b)`, 'm');
  });
}
