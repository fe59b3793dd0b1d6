# placeholder local package (never executed by mlvet)
