-- AlterTable
ALTER TABLE `tb_seckill_order` ADD COLUMN `sale_counted` BOOLEAN NOT NULL DEFAULT false;

-- Orders paid before this migration were counted in stock_count by the transaction that
-- persisted them.
UPDATE `tb_seckill_order` SET `sale_counted` = true WHERE `status` = 'PAID';
