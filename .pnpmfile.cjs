// Hooks of pnpm for this workspace.
module.exports = {
  hooks: {
    /**
     * The published package.json: without devDependencies, which are the workspace's own (among
     * them the private @sluice/internal, whose code each build inlines) and mean nothing to users.
     */
    beforePacking(pkg) {
      delete pkg.devDependencies
      return pkg
    },
  },
}
