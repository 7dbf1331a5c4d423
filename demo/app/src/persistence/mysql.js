// Items in MySQL (or MariaDB) with the mysql module. The server named by MYSQL_HOST may still be
// starting when the app does: init waits until it accepts a login.
const fs = require('fs');
const mysql = require('mysql');

// setting reads NAME, or the file named by NAME_FILE (a Docker secret).
function setting(name) {
    const file = process.env[`${name}_FILE`];
    return file ? fs.readFileSync(file, 'utf8').trim() : process.env[name];
}

let pool;

function query(sql, args) {
    return new Promise((resolve, reject) => {
        pool.query(sql, args, (err, rows) => (err ? reject(err) : resolve(rows)));
    });
}

function connectOnce(config) {
    return new Promise((resolve, reject) => {
        const conn = mysql.createConnection(config);
        conn.connect((err) => {
            if (err) {
                conn.destroy();
                reject(err);
            } else {
                conn.end(() => resolve());
            }
        });
    });
}

async function init() {
    const config = {
        host: setting('MYSQL_HOST'),
        user: setting('MYSQL_USER'),
        password: setting('MYSQL_PASSWORD'),
        database: setting('MYSQL_DB'),
        charset: 'utf8mb4',
    };
    const timeout = Number(process.env.MYSQL_WAIT_SECONDS || 120);
    for (let waited = 0; ; waited++) {
        try {
            await connectOnce(config);
            break;
        } catch (err) {
            if (waited >= timeout) {
                throw new Error(`mysql at ${config.host}: no login after ${timeout} s: ${err.message}`);
            }
            if (waited % 5 === 0) {
                console.log(`Waiting for mysql at ${config.host}:3306 (${err.code || err.message})`);
            }
            await new Promise((r) => setTimeout(r, 1000));
        }
    }
    pool = mysql.createPool({ connectionLimit: 5, ...config });
    await query('CREATE TABLE IF NOT EXISTS todo_items (id varchar(36), name varchar(255), completed boolean) DEFAULT CHARSET utf8mb4');
    console.log(`Connected to mysql db at host ${config.host}`);
}

function teardown() {
    return new Promise((resolve) => (pool ? pool.end(() => resolve()) : resolve()));
}

const toItem = (row) => ({ id: row.id, name: row.name, completed: row.completed === 1 });

async function getItems() {
    return (await query('SELECT * FROM todo_items')).map(toItem);
}

async function getItem(id) {
    const rows = await query('SELECT * FROM todo_items WHERE id = ?', [id]);
    return rows.length ? toItem(rows[0]) : undefined;
}

async function storeItem(item) {
    await query('INSERT INTO todo_items (id, name, completed) VALUES (?, ?, ?)', [item.id, item.name, item.completed ? 1 : 0]);
}

async function updateItem(id, item) {
    await query('UPDATE todo_items SET name = ?, completed = ? WHERE id = ?', [item.name, item.completed ? 1 : 0, id]);
}

async function removeItem(id) {
    await query('DELETE FROM todo_items WHERE id = ?', [id]);
}

module.exports = { init, teardown, getItems, getItem, storeItem, updateItem, removeItem };
