-- Migration number: 0012 	 2025-03-12T08:00:00.000Z
-- Composer names came from free-text imports; canonicalise the common spellings.
UPDATE scores SET composer = 'Johann Sebastian Bach' WHERE composer IN ('Bach', 'J.S. Bach', 'J. S. Bach', 'JS Bach', 'bach');
UPDATE scores SET composer = 'Ludwig van Beethoven' WHERE composer IN ('Beethoven', 'L. v. Beethoven', 'beethoven');
UPDATE scores SET composer = 'Wolfgang Amadeus Mozart' WHERE composer IN ('Mozart', 'W.A. Mozart', 'W. A. Mozart');
UPDATE scores SET composer = 'Frédéric Chopin' WHERE composer IN ('Chopin', 'F. Chopin', 'Frederic Chopin');
UPDATE scores SET composer = 'Antonín Dvořák' WHERE composer IN ('Dvorak', 'Dvořák', 'A. Dvorak');
UPDATE scores SET composer = 'Pyotr Ilyich Tchaikovsky' WHERE composer IN ('Tchaikovsky', 'Tschaikowsky', 'P. I. Tchaikovsky');
UPDATE scores SET composer = 'Claude Debussy' WHERE composer IN ('Debussy', 'C. Debussy');
UPDATE scores SET composer = 'Franz Schubert' WHERE composer IN ('Schubert', 'F. Schubert');
UPDATE scores SET composer = 'Robert Schumann' WHERE composer IN ('Schumann', 'R. Schumann');
UPDATE scores SET composer = 'Johannes Brahms' WHERE composer IN ('Brahms', 'J. Brahms');
UPDATE scores SET composer = 'Erik Satie' WHERE composer IN ('Satie', 'E. Satie');
UPDATE scores SET composer = 'Ryuichi Sakamoto' WHERE composer IN ('Sakamoto', '坂本龍一');
