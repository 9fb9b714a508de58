// PM2 runs the API in its own cluster mode: PM2 is the primary, each instance is a worker that
// migrates under SQLite's exclusive lock (so exactly once), then calls process.send('ready').
// Build first, then start: npm run build && pm2 start ecosystem.config.cjs
// Zero-downtime deploy (after a new build): pm2 reload backend-api.
const { join } = require('node:path');

module.exports = {
  apps: [
    {
      name: 'backend-api',
      // The bundle npm run build writes: one CommonJS file that starts in about a second (no
      // TypeScript compiled at start); better-sqlite3 comes from node_modules beside it. PM2's
      // cluster mode runs it with the node that runs PM2. The single executable is for systemd.
      script: join(__dirname, 'dist', 'main.cjs'),
      args: 'serve',
      cwd: __dirname,
      // Not PM2's @pm2/io in every instance (about 0.4 s and 13 MB each): /metrics has the numbers.
      pmx: false,
      exec_mode: 'cluster',
      // 0 means one instance per CPU.
      instances: Number(process.env.WORKERS ?? 0),
      // Traffic goes to an instance only after it said ready: database open, Redis (if set) connected.
      wait_ready: true,
      listen_timeout: 10000,
      // Above SHUTDOWN_TIMEOUT (10 s by default): PM2 sends SIGINT, the instance drains, then exits.
      kill_timeout: 15000,
      // 78 (EX_CONFIG) is a bad configuration, such as no JWT_SECRET: restarting cannot mend it.
      stop_exit_codes: [78],
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
