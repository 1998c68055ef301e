from redisguard.cli import main

main()
