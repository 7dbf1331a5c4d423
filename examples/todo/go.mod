module berth.example/todo

go 1.19

require (
	github.com/go-sql-driver/mysql v1.7.1
	github.com/mattn/go-sqlite3 v1.14.39
)
