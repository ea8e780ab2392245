import { InvalidInputError } from '@remediation/errors';

/** PEP 508 §Names: letters, digits, `.`, `_`, `-`, starting and ending with a letter or digit. */
const NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

/**
 * PEP 503 §Normalized Names: lower case, every run of `-`, `_`, `.` becomes one `-`
 * (`PyYAML` → `pyyaml`, `Flask_SQLAlchemy` → `flask-sqlalchemy`).
 */
export function normalisePythonName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** Whether `name` is a valid distribution name (PEP 508 §Names). */
export function isPythonName(name: string): boolean {
  return NAME.test(name);
}

/** @throws InvalidInputError `PACKAGE_NAME_INVALID` when `name` is not a PEP 508 name. */
export function assertPythonName(name: string): void {
  if (!isPythonName(name)) {
    throw new InvalidInputError('PACKAGE_NAME_INVALID', `not a Python package name (PEP 508): ${JSON.stringify(name)}`, {
      details: { name },
    });
  }
}
