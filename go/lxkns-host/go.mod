module github.com/mntnssandbox/lxkns-host

go 1.19
