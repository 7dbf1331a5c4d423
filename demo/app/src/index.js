// The todo app of Docker's getting-started workshop: a JSON API over a list of items and a
// small page that uses it. Items live in MySQL when MYSQL_HOST is set, else in SQLite.
const path = require('path');
const express = require('express');
const { v4: uuid } = require('uuid');
const db = process.env.MYSQL_HOST ? require('./persistence/mysql') : require('./persistence/sqlite');

const app = express();
app.use(express.json());
app.use(express.static(path.join(__dirname, 'static')));

// wrap passes a handler's rejected promise to express's error handler.
const wrap = (f) => (req, res, next) => f(req, res).catch(next);

app.get('/items', wrap(async (req, res) => {
    res.json(await db.getItems());
}));

app.post('/items', wrap(async (req, res) => {
    const name = req.body && req.body.name;
    if (typeof name !== 'string' || name.trim() === '') {
        res.status(400).json({ error: 'an item needs a name' });
        return;
    }
    const item = { id: uuid(), name: name.trim(), completed: false };
    await db.storeItem(item);
    res.json(item);
}));

app.put('/items/:id', wrap(async (req, res) => {
    const old = await db.getItem(req.params.id);
    if (!old) {
        res.status(404).json({ error: `no item ${req.params.id}` });
        return;
    }
    const body = req.body || {};
    const item = {
        id: old.id,
        name: typeof body.name === 'string' ? body.name : old.name,
        completed: typeof body.completed === 'boolean' ? body.completed : old.completed,
    };
    await db.updateItem(item.id, item);
    res.json(item);
}));

app.delete('/items/:id', wrap(async (req, res) => {
    await db.removeItem(req.params.id);
    res.sendStatus(200);
}));

app.use((err, req, res, next) => {
    console.error(err);
    res.status(500).json({ error: String(err.message || err) });
});

db.init().then(() => {
    app.listen(3000, () => console.log('Listening on port 3000'));
}).catch((err) => {
    console.error(err);
    process.exit(1);
});

const stop = () => {
    db.teardown().catch(() => {}).then(() => process.exit());
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.on('SIGUSR2', stop); // nodemon's restart signal
