/** Whether a dropped path looks like an OpenPGP key file (`.asc` or `.pgp`, also `.gpg`/`.key`). */
export function isKeyFile(path: string): boolean {
  return /\.(asc|pgp|gpg|key)$/i.test(path.trim());
}

/** The file name of a native path (either separator). */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] ?? path;
}
