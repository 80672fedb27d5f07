CREATE TABLE `score_tags` (
	`score_id` integer NOT NULL,
	`tag` text NOT NULL,
	PRIMARY KEY(`score_id`, `tag`),
	FOREIGN KEY (`score_id`) REFERENCES `scores`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `score_tags_tag_idx` ON `score_tags` (`tag`);--> statement-breakpoint
