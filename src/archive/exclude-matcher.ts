import picomatch from 'picomatch';

/** ExcludeMatcher says whether a path found under an include path is left out of the archive. */
export type ExcludeMatcher = (absolutePath: string, relativePath: string) => boolean;

/**
 * createExcludeMatcher compiles BACKUP_EXCLUDE. A glob without `/` matches a name at any depth
 * (`*.log`); a glob starting with `/` matches the absolute path (`/srv/app/tmp/**`); any other
 * glob matches the path relative to its include path (`cache/**`). A matching directory is left
 * out with everything in it. Dotfiles match like any other name.
 */
export function createExcludeMatcher(globs: readonly string[]): ExcludeMatcher {
  const names = globs.filter((g) => !g.includes('/'));
  const absolute = globs.filter((g) => g.startsWith('/'));
  const relative = globs.filter((g) => g.includes('/') && !g.startsWith('/'));
  const options = { dot: true };
  const byName = names.length > 0 ? picomatch(names, options) : null;
  const byAbsolute = absolute.length > 0 ? picomatch(absolute, options) : null;
  const byRelative = relative.length > 0 ? picomatch(relative, options) : null;
  return (absolutePath, relativePath) => {
    const name = absolutePath.slice(absolutePath.lastIndexOf('/') + 1);
    return (byName?.(name) ?? false) || (byAbsolute?.(absolutePath) ?? false) || (relativePath !== '' && (byRelative?.(relativePath) ?? false));
  };
}
