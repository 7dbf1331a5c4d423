// Items in an SQLite file (SQLITE_DB_LOCATION, default /etc/todos/todo.db): the app's storage
// when no MYSQL_HOST is given.
const fs = require('fs');
const path = require('path');
const sqlite3 = require('sqlite3');

const location = process.env.SQLITE_DB_LOCATION || '/etc/todos/todo.db';
let db;

function run(sql, args = []) {
    return new Promise((resolve, reject) => db.run(sql, args, (err) => (err ? reject(err) : resolve())));
}

function all(sql, args = []) {
    return new Promise((resolve, reject) => db.all(sql, args, (err, rows) => (err ? reject(err) : resolve(rows))));
}

async function init() {
    fs.mkdirSync(path.dirname(location), { recursive: true });
    await new Promise((resolve, reject) => {
        db = new sqlite3.Database(location, (err) => (err ? reject(err) : resolve()));
    });
    await run('CREATE TABLE IF NOT EXISTS todo_items (id varchar(36), name varchar(255), completed boolean)');
    console.log(`Using sqlite database at ${location}`);
}

function teardown() {
    return new Promise((resolve) => (db ? db.close(() => resolve()) : resolve()));
}

const toItem = (row) => ({ id: row.id, name: row.name, completed: row.completed === 1 });

async function getItems() {
    return (await all('SELECT * FROM todo_items')).map(toItem);
}

async function getItem(id) {
    const rows = await all('SELECT * FROM todo_items WHERE id = ?', [id]);
    return rows.length ? toItem(rows[0]) : undefined;
}

async function storeItem(item) {
    await run('INSERT INTO todo_items (id, name, completed) VALUES (?, ?, ?)', [item.id, item.name, item.completed ? 1 : 0]);
}

async function updateItem(id, item) {
    await run('UPDATE todo_items SET name = ?, completed = ? WHERE id = ?', [item.name, item.completed ? 1 : 0, id]);
}

async function removeItem(id) {
    await run('DELETE FROM todo_items WHERE id = ?', [id]);
}

module.exports = { init, teardown, getItems, getItem, storeItem, updateItem, removeItem };
