from profiles.app import main

main()
