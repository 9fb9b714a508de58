// PM2 runs the API in its own cluster mode: PM2 is the primary, each instance is a worker that
// migrates under SQLite's exclusive lock (so exactly once), then calls process.send('ready').
// Start: pm2 start ecosystem.config.cjs; zero-downtime deploy: pm2 reload backend-api.
const { join } = require('node:path');

module.exports = {
  apps: [
    {
      name: 'backend-api',
      // PM2's cluster mode runs a script with node; the TypeScript source goes through tsx (compiled
      // once at start). The single executable is for systemd (or PM2's fork mode).
      script: join(__dirname, 'src', 'main.ts'),
      args: 'serve',
      // PM2 would hand a .ts file to bun; it is node with tsx here.
      interpreter: 'node',
      node_args: ['--import', 'tsx'],
      cwd: __dirname,
      exec_mode: 'cluster',
      // 0 means one instance per CPU.
      instances: Number(process.env.WORKERS ?? 0),
      // Traffic goes to an instance only after it said ready: database open, Redis (if set) connected.
      wait_ready: true,
      listen_timeout: 15000,
      // Above SHUTDOWN_TIMEOUT (10 s by default): PM2 sends SIGINT, the instance drains, then exits.
      kill_timeout: 15000,
      max_memory_restart: '300M',
      exp_backoff_restart_delay: 100,
      // PM2 collects stdout; the instances write no files of their own unless LOG_DIR is set.
      merge_logs: true,
      env: {
        NODE_ENV: 'production',
        LOG_DIR: '',
      },
    },
  ],
};
