-- A few posts for the blog, loaded into database `blog` after databaseInitSQL created the table.
-- Idempotent: the app layer applies it on every `up`, including after a rebirth.
INSERT INTO public.posts (title, body, published_at)
SELECT v.title, v.body, v.published_at::timestamptz
FROM (VALUES
  ('Il Castello Effimero', 'Destroy the whole castle and bring it back, with its data, in minutes.', '2026-02-07 19:00:00+01'),
  ('Data Immortality', 'Two pgBackRest repos: S3 for survival, a local volume for speed.', '2026-02-08 10:00:00+01'),
  ('Nuclear Rebirth', 'Wipe first, then rebirth zero-touch: the proof is the blog serving these posts again.', '2026-02-09 09:30:00+01')
) AS v(title, body, published_at)
WHERE NOT EXISTS (SELECT 1 FROM public.posts p WHERE p.title = v.title);
