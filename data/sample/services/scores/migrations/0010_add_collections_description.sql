ALTER TABLE collections ADD COLUMN description TEXT;
